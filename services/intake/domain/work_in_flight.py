"""Work in flight: open tickets by severity, status and tier, and tickets at risk or overdue (pure).

Reads tickets or their open-work summaries (services/intake/domain/views.py), which keep the clocks.

Read from the clocks escalation reported, with the same arithmetic escalation warns and breaches
with: a target is at risk when its clock runs, the target is not reached yet and at least the
at-risk share of its budget is used (business time, paused time credited); past its due time it is
overdue instead. Paused clocks are neither.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.intake.domain.sla import OUTCOME_FIELD
from shared.contracts import OPEN_STATUSES
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import RUNNING, remaining_at, used_fraction

SEVERITY_TARGETS = ("response", "resolution")


@dataclass
class WorkInFlight:
    """Counts keyed by label values: (severity, status, tier) and (severity, target)."""

    open_tickets: Counter = field(default_factory=Counter)
    at_risk: Counter = field(default_factory=Counter)
    overdue: Counter = field(default_factory=Counter)


def _label(value: Any) -> str:
    return "none" if value is None else str(value)


def clock_standing(ticket: dict[str, Any], target: str, now: datetime, calendar: BusinessCalendar,
                   at_risk_fraction: float) -> str | None:
    """Return 'overdue', 'at_risk' or None for one target of a ticket, from its clock."""
    clocks = ticket.get("clocks") if "clocks" in ticket else (ticket.get("sla") or {}).get("clocks")
    clock = (clocks or {}).get(target)
    if clock is None or clock["state"] != RUNNING or ticket.get(OUTCOME_FIELD[target]):
        return None
    if remaining_at(clock, now, calendar) < 0:
        return "overdue"
    if used_fraction(clock, now, calendar) >= at_risk_fraction:
        return "at_risk"
    return None


def count_work_in_flight(tickets: list[dict[str, Any]], now: datetime, calendar: BusinessCalendar,
                         at_risk_fraction: float) -> WorkInFlight:
    """Return the work-in-flight counts of the given open tickets at time now."""
    counts = WorkInFlight()
    for ticket in tickets:
        status = ticket.get("status")
        if status not in OPEN_STATUSES:
            continue
        severity = _label(ticket.get("severity"))
        counts.open_tickets[(severity, status, _label(ticket.get("tier")))] += 1
        if ticket.get("severity") is None:
            continue
        for target in SEVERITY_TARGETS:
            standing = clock_standing(ticket, target, now, calendar, at_risk_fraction)
            if standing == "overdue":
                counts.overdue[(severity, target)] += 1
            elif standing == "at_risk":
                counts.at_risk[(severity, target)] += 1
    return counts
