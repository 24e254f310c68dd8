"""Work in flight: open tickets by severity, status and tier, and tickets at risk or overdue (pure).

A ticket is at risk for a target when it is open and running (not Waiting for Info or On Hold),
the target is not met yet (no first response, or not resolved), at least `warn_fraction` of the
budget from report to due time has elapsed, and the due time has not passed. Past the due time it
is overdue instead. Paused tickets are counted as open but never at risk or overdue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts import OPEN_STATUSES, PAUSED_STATUSES

PROJECTION = {"_id": 0, "severity": 1, "status": 1, "tier": 1, "created_at": 1, "first_response_at": 1,
              "sla.response_due_at": 1, "sla.resolution_due_at": 1}
"""The only fields the count reads; the query selects status in OPEN_STATUSES."""


@dataclass
class WorkInFlight:
    """Counts keyed by label values: (severity, status, tier) and (severity, target)."""

    open_tickets: Counter = field(default_factory=Counter)
    at_risk: Counter = field(default_factory=Counter)
    overdue: Counter = field(default_factory=Counter)


def _label(value: Any) -> str:
    return "none" if value is None else str(value)


def _pending_targets(ticket: dict[str, Any]) -> list[str]:
    targets = [] if ticket.get("first_response_at") is not None else ["response"]
    return targets + ["resolution"]


def count_work_in_flight(tickets: list[dict[str, Any]], now: datetime, warn_fraction: float) -> WorkInFlight:
    """Return the work-in-flight counts of the given open tickets at time now."""
    counts = WorkInFlight()
    for ticket in tickets:
        status = ticket.get("status")
        if status not in OPEN_STATUSES:
            continue
        severity = _label(ticket.get("severity"))
        counts.open_tickets[(severity, status, _label(ticket.get("tier")))] += 1
        created, sla = ticket.get("created_at"), ticket.get("sla") or {}
        if status in PAUSED_STATUSES or created is None or ticket.get("severity") is None:
            continue
        for target in _pending_targets(ticket):
            due = sla.get(f"{target}_due_at")
            if due is None:
                continue
            if now > due:
                counts.overdue[(severity, target)] += 1
            elif now >= created + (due - created) * warn_fraction:
                counts.at_risk[(severity, target)] += 1
    return counts
