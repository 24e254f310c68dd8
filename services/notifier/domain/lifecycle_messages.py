"""Messages caused by the ticket lifecycle (intake) and by reclassification (triage) (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.notifier.domain.messages import Notice, notice_about
from shared.contracts.lifecycle_events import (
    LifecycleEvent,
    TicketCommented,
    TicketResolved,
    TicketSeverityChanged,
    TicketStatusChanged,
)
from shared.contracts.triage_events import TicketReclassified

STATUS_WORDS = {
    "open": "Open",
    "in_progress": "In Progress",
    "waiting_for_info": "Waiting for Info",
    "on_hold": "On Hold",
    "resolved": "Resolved",
    "closed": "Closed",
}


def _notice(event_id: str, event: LifecycleEvent, messages: tuple[str, ...], **context: Any) -> Notice:
    """Return a notice about a ticket change, with the facts every lifecycle template may use."""
    return notice_about(event_id, event, messages, title=event.title, actor_name=event.actor.name,
                        status=STATUS_WORDS[event.status], **context)


def from_status_changed(event_id: str, event: TicketStatusChanged) -> Notice:
    """Tell the reporter about a move they did not make; a request for information gets its own message.

    Resolutions are announced by ticket.resolved (with the solution), so they are not repeated here.
    A resolved ticket closed by the system was closed for lack of feedback: that is 'auto_closed'.
    """
    if event.actor.type == "reporter" or event.status == "resolved":
        return _notice(event_id, event, ())
    if event.actor.type == "system" and event.from_status == "resolved" and event.status == "closed":
        return _notice(event_id, event, ("auto_closed",), reason=event.reason or "")
    if event.status == "waiting_for_info":
        return _notice(event_id, event, ("info_requested",), question=event.reason or "")
    return _notice(event_id, event, ("status_changed",), from_status=STATUS_WORDS[event.from_status],
                     reason=event.reason or "")


def from_resolved(event_id: str, event: TicketResolved) -> Notice:
    """Ask the reporter to confirm the proposed solution with one of the three answers."""
    return _notice(event_id, event, ("resolution_proposed",), solution=event.proposed_solution)


def from_commented(event_id: str, event: TicketCommented) -> Notice:
    """Send support's public comments to the reporter; internal notes and the reporter's own stay put."""
    if event.visibility != "public" or event.actor.type not in ("agent", "admin"):
        return _notice(event_id, event, ())
    return _notice(event_id, event, ("agent_comment",), body=event.body)


def from_severity_changed(event_id: str, event: TicketSeverityChanged) -> Notice:
    """Tell the reporter an agent changed the severity, and why (the team hears it from triage)."""
    notice = _notice(event_id, event, ("severity_changed",), reason=event.reason,
                         old_severity=(event.old_severity.value if event.old_severity else "unset").capitalize(),
                         severity=event.new_severity.value.capitalize())
    return replace(notice, team=None)


def from_reclassified(event_id: str, event: TicketReclassified) -> Notice:
    """Tell the team the new severity and due times, and page it when the ticket moved tier."""
    messages = ("severity_changed", "ticket_assigned") if event.tier != event.old_tier else ("severity_changed",)
    return notice_about(
        event_id, event, messages,
        title=event.number,
        old_severity=event.old_severity.value.capitalize(),
        severity=event.severity.value.capitalize(),
        severity_level=event.severity.level,
        reason=event.reason,
        team=event.team,
        tier=event.tier,
        response_target=event.response_target,
        resolution_target=event.resolution_target,
        response_due_at=event.response_due_at.strftime("%Y-%m-%d %H:%M UTC"),
        resolution_due_at=event.resolution_due_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
