"""Messages caused by the ticket lifecycle (intake) and by reclassification (triage) (pure)."""

from __future__ import annotations

from typing import Any

from dataclasses import replace

from shared.contracts.lifecycle_events import (
    TicketChange,
    TicketCommented,
    TicketResolved,
    TicketSeverityChanged,
    TicketStatusChanged,
)
from shared.contracts.triage_events import TicketReclassified
from services.notifier.domain.messages import Occasion, person_of

STATUS_WORDS = {
    "open": "Open",
    "in_progress": "In Progress",
    "waiting_for_info": "Waiting for Info",
    "on_hold": "On Hold",
    "resolved": "Resolved",
    "closed": "Closed",
}


def _occasion(event_id: str, event: TicketChange, messages: tuple[str, ...], **context: Any) -> Occasion:
    """Return an occasion about a ticket change, with the facts every lifecycle template may use."""
    reporter = event.reporter
    return Occasion(
        event_id=event_id,
        event_type=event.EVENT_TYPE,
        ticket_id=event.ticket_id,
        number=event.number,
        messages=messages,
        team=event.team,
        tier=event.tier,
        severity=event.severity.value if event.severity else None,
        reporter=person_of(reporter),
        context={
            "reporter_name": reporter.name,
            "number": event.number,
            "title": event.title,
            "actor_name": event.actor.name,
            "status": STATUS_WORDS[event.status],
            **context,
        },
    )


def from_status_changed(event_id: str, event: TicketStatusChanged) -> Occasion:
    """Tell the reporter about a move they did not make; a request for information gets its own message.

    Resolutions are announced by ticket.resolved (with the solution), so they are not repeated here.
    A resolved ticket closed by the system was closed for lack of feedback: that is 'auto_closed'.
    """
    if event.actor.type == "reporter" or event.status == "resolved":
        return _occasion(event_id, event, ())
    if event.actor.type == "system" and event.from_status == "resolved" and event.status == "closed":
        return _occasion(event_id, event, ("auto_closed",), reason=event.reason or "")
    if event.status == "waiting_for_info":
        return _occasion(event_id, event, ("info_requested",), question=event.reason or "")
    return _occasion(event_id, event, ("status_changed",), from_status=STATUS_WORDS[event.from_status],
                     reason=event.reason or "")


def from_resolved(event_id: str, event: TicketResolved) -> Occasion:
    """Ask the reporter to confirm the proposed solution with one of the three answers."""
    return _occasion(event_id, event, ("resolution_proposed",), solution=event.proposed_solution)


def from_commented(event_id: str, event: TicketCommented) -> Occasion:
    """Send support's public comments to the reporter; internal notes and the reporter's own stay put."""
    if event.visibility != "public" or event.actor.type not in ("agent", "admin"):
        return _occasion(event_id, event, ())
    return _occasion(event_id, event, ("agent_comment",), body=event.body)


def from_severity_changed(event_id: str, event: TicketSeverityChanged) -> Occasion:
    """Tell the reporter an agent changed the severity, and why (the team hears it from triage)."""
    occasion = _occasion(event_id, event, ("severity_changed",), reason=event.reason,
                         old_severity=(event.old_severity.value if event.old_severity else "unset").capitalize(),
                         severity=event.new_severity.value.capitalize())
    return replace(occasion, team=None)


def from_reclassified(event_id: str, event: TicketReclassified) -> Occasion:
    """Tell the team the new severity and due times, and page it when the ticket moved tier."""
    messages = ("severity_changed", "ticket_assigned") if event.tier != event.old_tier else ("severity_changed",)
    return Occasion(
        event_id=event_id,
        event_type=event.EVENT_TYPE,
        ticket_id=event.ticket_id,
        number=event.number,
        messages=messages,
        team=event.team,
        tier=event.tier,
        severity=event.severity.value,
        reporter=None,
        context={
            "number": event.number,
            "title": event.number,
            "old_severity": event.old_severity.value.capitalize(),
            "severity": event.severity.value.capitalize(),
            "severity_level": event.severity.level,
            "reason": event.reason,
            "team": event.team,
            "tier": event.tier,
            "response_target": event.response_target,
            "response_due_at": event.response_due_at.strftime("%Y-%m-%d %H:%M UTC"),
            "resolution_due_at": event.resolution_due_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
    )
