"""SLA outcomes: whether a ticket's first response and first resolution met their targets (pure).

A target is measured once per ticket, at the change that first records it: the first agent
response (``first_response_at`` set) and the first move to Resolved or Closed. It is met when that
moment is no later than the due time stored on the ticket (from ticket.triaged or
ticket.reclassified; due times already include the business calendar). Elapsed time is wall-clock
from the report. A ticket without a severity or due times yet (not triaged) is not measured.
The outcome is stored on the ticket (``sla_response``, ``sla_resolution``) in the same write as
the change, so the report reads exactly what the metrics counted, even after reclassification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contracts import FINISHED_STATUSES

FIELD = {"response": "sla_response", "resolution": "sla_resolution"}
DUE = {"response": "response_due_at", "resolution": "resolution_due_at"}


@dataclass(frozen=True)
class SlaOutcome:
    """One measured target of one ticket."""

    target: str  # "response" or "resolution"
    severity: str
    met: bool
    elapsed_seconds: float
    at: datetime
    due_at: datetime

    def to_document(self) -> dict[str, Any]:
        """Return the sub-document stored on the ticket under FIELD[target]."""
        return {"severity": self.severity, "outcome": "met" if self.met else "breached",
                "elapsed_seconds": self.elapsed_seconds, "at": self.at, "due_at": self.due_at}


def _measure(ticket: dict[str, Any], target: str, severity: str | None, at: datetime) -> SlaOutcome | None:
    due = (ticket.get("sla") or {}).get(DUE[target])
    created = ticket.get("created_at")
    if severity is None or due is None or created is None:
        return None
    return SlaOutcome(target, severity, at <= due, (at - created).total_seconds(), at, due)


def is_first_response(ticket: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Return True if these fields record the ticket's first response."""
    return fields.get("first_response_at") is not None and ticket.get("first_response_at") is None


def is_first_resolution(ticket: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Return True if these fields move the ticket to Resolved or Closed for the first time."""
    return (
        fields.get("status") in FINISHED_STATUSES
        and ticket.get("status") not in FINISHED_STATUSES
        and ticket.get(FIELD["resolution"]) is None
        and ticket.get("resolved_at") is None
        and ticket.get("closed_at") is None
    )


def sla_outcomes(ticket: dict[str, Any], fields: dict[str, Any], now: datetime) -> list[SlaOutcome]:
    """Return the targets that a change (fields applied at now to ticket) measures, response first."""
    severity = fields.get("severity", ticket.get("severity"))
    outcomes = []
    if is_first_response(ticket, fields):
        outcomes.append(_measure(ticket, "response", severity, fields["first_response_at"]))
    if is_first_resolution(ticket, fields):
        outcomes.append(_measure(ticket, "resolution", severity, now))
    return [outcome for outcome in outcomes if outcome is not None]


def outcome_fields(outcomes: list[SlaOutcome]) -> dict[str, Any]:
    """Return the ticket fields that store these outcomes."""
    return {FIELD[o.target]: o.to_document() for o in outcomes}


def outcome_guard(outcomes: list[SlaOutcome]) -> dict[str, Any]:
    """Return the extra write condition that keeps each target from being measured twice."""
    return {FIELD[o.target]: None for o in outcomes}
