"""SLA allowances per severity (KB-005), the business calendar they count on, and their due times (pure).

Words used across the code: a *target* is one promise of a ticket (response, resolution, or the
hand-off after an escalation); a target's *allowance* is how long it gives (round-the-clock hours,
or business days of working time); a running target is a *clock* (shared/sla/clocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.contracts import Severity
from shared.sla.calendar import BusinessCalendar

TARGETS = ("response", "resolution", "handoff")
"""Every target a ticket can have; response and resolution come from the severity, handoff from an escalation."""
SEVERITY_TARGETS = ("response", "resolution")


@dataclass(frozen=True)
class Allowance:
    """How long a target gives: wall-clock hours (round the clock), or whole business days of working time."""

    hours: float = 0
    business_days: int = 0

    def __post_init__(self) -> None:
        if self.hours < 0 or self.business_days < 0 or (self.hours and self.business_days):
            raise ValueError("an allowance is either non-negative hours or non-negative business days, not both")

    @property
    def on_business_time(self) -> bool:
        """Return True if the allowance counts only working time."""
        return bool(self.business_days)

    def budget(self, calendar: BusinessCalendar) -> timedelta:
        """Return the allowance as an amount of time of its own kind (working time for business days)."""
        if self.business_days:
            return calendar.working_day * self.business_days
        return timedelta(hours=self.hours)

    def describe(self) -> str:
        """Return the allowance as the spec words it, e.g. '15 minutes' or '1 business day'."""
        if self.business_days:
            unit = "business day" if self.business_days == 1 else "business days"
            return f"{self.business_days} {unit}"
        minutes = round(self.hours * 60)
        if minutes < 60:
            return f"{minutes} minutes"
        hours = minutes // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"


@dataclass(frozen=True)
class TargetAllowances:
    """The response and resolution allowances of one severity."""

    response: Allowance
    resolution: Allowance


SPEC_ALLOWANCES: dict[Severity, TargetAllowances] = {
    Severity.CRITICAL: TargetAllowances(Allowance(hours=0.25), Allowance(hours=4)),
    Severity.HIGH: TargetAllowances(Allowance(hours=1), Allowance(hours=8)),
    Severity.MEDIUM: TargetAllowances(Allowance(hours=4), Allowance(hours=24)),
    Severity.LOW: TargetAllowances(Allowance(business_days=1), Allowance(business_days=5)),
}


@dataclass(frozen=True)
class Deadlines:
    """When a ticket must be acknowledged, responded to and resolved."""

    acknowledge_due_at: datetime
    response_due_at: datetime
    resolution_due_at: datetime


@dataclass(frozen=True)
class SlaPolicy:
    """Allowances per severity, the business calendar, warning fractions and the hand-off allowance.

    `warning_fractions` are the shares of a budget at which a running clock warns; the first of them
    is also where a ticket counts as *at risk*. The hand-off allowance is the time a new team has to
    contact the reporter after an escalation (KB-005: 2 hours).
    """

    allowances: dict[Severity, TargetAllowances] = field(default_factory=lambda: dict(SPEC_ALLOWANCES))
    acknowledge: Allowance = Allowance(hours=1)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    warning_fractions: tuple[float, ...] = (0.75, 0.9)
    handoff: Allowance = Allowance(hours=2)
    carry_over_spent_time: bool = True

    @property
    def at_risk_fraction(self) -> float:
        """Return the share of a budget after which an unmet running target is at risk (the first warning)."""
        return min(self.warning_fractions)

    def allowance(self, severity: Severity | str | None, target: str) -> Allowance | None:
        """Return the allowance of a severity's target (handoff for any severity), or None if there is none."""
        if target == "handoff":
            return self.handoff
        if severity is None or target not in SEVERITY_TARGETS:
            return None
        allowances = self.allowances.get(Severity(severity))
        return getattr(allowances, target) if allowances is not None else None

    def is_business_time(self, severity: Severity | str | None, target: str) -> bool:
        """Return True if this severity's target counts working time only."""
        allowance = self.allowance(severity, target)
        return allowance is not None and allowance.on_business_time

    def due_at(self, start: datetime, allowance: Allowance) -> datetime:
        """Return when an allowance started at `start` runs out; business days count working time only."""
        if not allowance.business_days:
            return start + timedelta(hours=allowance.hours)
        return self.calendar.add_business_days(start, allowance.business_days)

    def deadlines(self, severity: Severity, start: datetime) -> Deadlines:
        """Return the acknowledge, response and resolution due times of a ticket started at `start`."""
        allowances = self.allowances[severity]
        return Deadlines(
            acknowledge_due_at=self.due_at(start, self.acknowledge),
            response_due_at=self.due_at(start, allowances.response),
            resolution_due_at=self.due_at(start, allowances.resolution),
        )


@dataclass(frozen=True)
class ServiceLevels:
    """The support organisation every service agrees on: the team of each tier and the SLA policy."""

    teams: dict[int, str]
    sla: SlaPolicy = field(default_factory=SlaPolicy)

    def team_for(self, tier: int) -> str:
        """Return the team that takes tickets at a tier."""
        return self.teams[tier]
