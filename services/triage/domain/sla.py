"""SLA targets per severity (KB-005) and their due times on a business calendar (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.contracts import Severity
from services.triage.domain.calendar import BusinessCalendar

@dataclass(frozen=True)
class Target:
    """A span of time: wall-clock hours (round the clock), or whole business days on the calendar."""

    hours: float = 0
    business_days: int = 0

    def __post_init__(self) -> None:
        if self.hours < 0 or self.business_days < 0 or (self.hours and self.business_days):
            raise ValueError("a target is either non-negative hours or non-negative business days, not both")

    @property
    def on_business_time(self) -> bool:
        """Return True if the target counts only working time."""
        return bool(self.business_days)

    def budget(self, calendar: BusinessCalendar) -> timedelta:
        """Return the target as an amount of time of its own kind (working time for business days)."""
        if self.business_days:
            return calendar.working_day * self.business_days
        return timedelta(hours=self.hours)

    def describe(self) -> str:
        """Return the target as the spec words it, e.g. '15 minutes' or '1 business day'."""
        if self.business_days:
            unit = "business day" if self.business_days == 1 else "business days"
            return f"{self.business_days} {unit}"
        minutes = round(self.hours * 60)
        if minutes < 60:
            return f"{minutes} minutes"
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"


@dataclass(frozen=True)
class SlaTargets:
    """Response and resolution targets for one severity."""

    response: Target
    resolution: Target


SPEC_TARGETS: dict[Severity, SlaTargets] = {
    Severity.CRITICAL: SlaTargets(Target(hours=0.25), Target(hours=4)),
    Severity.HIGH: SlaTargets(Target(hours=1), Target(hours=8)),
    Severity.MEDIUM: SlaTargets(Target(hours=4), Target(hours=24)),
    Severity.LOW: SlaTargets(Target(business_days=1), Target(business_days=5)),
}


@dataclass(frozen=True)
class Deadlines:
    """When a ticket must be acknowledged, responded to and resolved."""

    acknowledge_due_at: datetime
    response_due_at: datetime
    resolution_due_at: datetime


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per severity, the acknowledgement target and the calendar business days follow."""

    targets: dict[Severity, SlaTargets] = field(default_factory=lambda: dict(SPEC_TARGETS))
    acknowledge: Target = Target(hours=1)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    def due_at(self, start: datetime, target: Target) -> datetime:
        """Return when `target` started at `start` falls due; business days count working time only."""
        return due_at(start, target, self.calendar)

    def deadlines(self, severity: Severity, start: datetime) -> Deadlines:
        """Return the acknowledge, response and resolution due times of a ticket started at `start`."""
        targets = self.targets[severity]
        return Deadlines(
            acknowledge_due_at=self.due_at(start, self.acknowledge),
            response_due_at=self.due_at(start, targets.response),
            resolution_due_at=self.due_at(start, targets.resolution),
        )


def due_at(start: datetime, target: Target, calendar: BusinessCalendar | None = None) -> datetime:
    """Return when a target started at `start` falls due; business days follow the calendar."""
    if not target.business_days:
        return start + timedelta(hours=target.hours)
    return (calendar or BusinessCalendar()).add_business_days(start, target.business_days)
