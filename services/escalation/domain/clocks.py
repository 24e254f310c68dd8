"""SLA clocks as data: what escalation stores per ticket and when it next needs attention (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contracts import TicketTriaged


def clock_from_triage(event: TicketTriaged, now: datetime) -> dict[str, Any]:
    """Return the SLA clock fields for a freshly triaged ticket: response and resolution running."""
    return {
        "number": event.number,
        "severity": event.severity.value,
        "tier": event.tier,
        "team": event.team,
        "started_at": event.reported_at,
        "response": {"due_at": event.response_due_at, "state": "running", "stopped_at": None},
        "resolution": {"due_at": event.resolution_due_at, "state": "running", "stopped_at": None},
        "acknowledge": {"due_at": event.acknowledge_due_at, "state": "running"},
        "paused_seconds": 0.0,
        "next_due_at": min(event.acknowledge_due_at, event.response_due_at, event.resolution_due_at),
        "updated_at": now,
    }
