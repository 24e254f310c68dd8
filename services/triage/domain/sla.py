"""SLA targets per severity (KB-005) and their due times (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import Severity

ACKNOWLEDGE_WITHIN = timedelta(hours=1)


@dataclass(frozen=True)
class Target:
    """A span of time: wall-clock hours, or whole business days."""

    hours: float = 0
    business_days: int = 0

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


def due_at(start: datetime, target: Target) -> datetime:
    """Return when a target started at `start` falls due; business days skip Saturday and Sunday."""
    if not target.business_days:
        return start + timedelta(hours=target.hours)
    due = start
    remaining = target.business_days
    while remaining:
        due += timedelta(days=1)
        if due.weekday() < 5:
            remaining -= 1
    return due
