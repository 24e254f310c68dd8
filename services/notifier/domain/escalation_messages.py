"""Messages caused by escalation: tier moves, pages, SLA warnings and breaches, vendor hand-offs (pure).

Auto-close is announced from intake's ticket.status_changed (see lifecycle_messages), i.e. only
once intake actually closed the ticket, not from escalation's ticket.auto_close_due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.domain.messages import DirectRecipient, Notice, notice_about
from shared.contracts.escalation_events import (
    EscalationFacts,
    EscalationPageRequested,
    PagedPerson,
    SlaBreached,
    SlaWarning,
    TicketEscalated,
    VendorHandoffSent,
    VendorReplyReceived,
)
from shared.contracts.oncall_events import OnCallHandoffNotice

TARGET_WORDS = {"response": "first response", "resolution": "resolution", "handoff": "hand-off contact"}
VENDOR_KIND_WORDS = {"need_info": "needs more information", "resolved": "reports the issue resolved"}
VENDOR_UPDATE_KINDS = ("need_info", "resolved")


def when(moment: datetime) -> str:
    """Return a time as templates show it (UTC, minutes)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def hours_phrase(seconds: float) -> str:
    """Return a duration in whole hours where possible: '2 hours', '1 hour', '1.5 hours'."""
    hours = round(seconds / 3600, 1)
    number = int(hours) if hours == int(hours) else hours
    return f"{number} hour" if number == 1 else f"{number} hours"


def _notice(event_id: str, event: EscalationFacts, messages: tuple[str, ...], *,
            team_roles: tuple[str, ...] | None = None, **context: Any) -> Notice:
    """Return a notice about an escalation event, with the facts every escalation template may use."""
    return notice_about(
        event_id, event, messages, team_roles=team_roles, people=context.pop("people", ()),
        acknowledgeable=context.pop("acknowledgeable", False),
        severity=event.severity.value.capitalize() if event.severity else "Unclassified",
        team=event.team or "support", tier=event.tier, **context,
    )


def from_escalated(event_id: str, event: TicketEscalated) -> Notice:
    """Tell the reporter (new number, contact promise) and page the new team's on-call: the first page."""
    promise = hours_phrase((event.handoff_due_at - event.escalated_at).total_seconds())
    # with an on-call policy, escalation pages the people on call itself (escalation.page_requested)
    messages = ("escalated",) if event.oncall_policy else ("escalated", "escalation_page")
    return _notice(
        event_id, event, messages, team_roles=("on_call",), acknowledgeable=True, page_id=f"esc-{event_id}",
        step=None,
        previous_number=event.previous_number, new_number=event.new_number or "",
        from_tier=event.from_tier, to_tier=event.to_tier, from_team=event.from_team or "",
        trigger=event.trigger, reason=event.reason, handoff_due_at=when(event.handoff_due_at),
        contact_within=promise, page_role="on_call", attempt=1, max_attempts=1,
        page_reason=f"escalated to Tier {event.to_tier}: {event.reason}",
    )


def direct(person: PagedPerson, role: str) -> DirectRecipient:
    """Return a person an event names as a direct recipient in a team role."""
    return DirectRecipient(person.id, person.name, role, person.email, person.slack, person.webhook)


def from_page_requested(event_id: str, event: EscalationPageRequested) -> Notice:
    """Page the people on call the event names (and its team channels), or else the one role of the team it names."""
    if event.people is not None:
        roles, people = tuple(event.channels or ()), tuple(direct(p, event.role) for p in event.people)
    else:
        roles, people = (event.role,), ()
    return _notice(event_id, event, ("escalation_page",), team_roles=roles, people=people, acknowledgeable=True,
                   page_role=event.role, attempt=event.attempt, max_attempts=event.max_attempts,
                   page_reason=event.reason, page_id=event.page_id, step=event.step)


def from_sla_warning(event_id: str, event: SlaWarning) -> Notice:
    """Warn the team's channel that a clock used most of its budget."""
    return _notice(event_id, event, ("sla_warning",), target=TARGET_WORDS[event.target],
                     percent=round(event.fraction * 100), due_at=when(event.due_at))


def from_sla_breached(event_id: str, event: SlaBreached) -> Notice:
    """Tell the team lead a target was missed."""
    return _notice(event_id, event, ("sla_breached",), target=TARGET_WORDS[event.target], due_at=when(event.due_at),
                     breached_at=when(event.at))


def from_vendor_handoff(event_id: str, event: VendorHandoffSent) -> Notice:
    """Tell the vendor-management channel (the Tier 4 team) which vendor holds the case and until when."""
    return _notice(event_id, event, ("vendor_handoff",), vendor_name=event.vendor_name, vendor_id=event.vendor_id,
                     handoff_id=event.handoff_id, answer_due_at=when(event.answer_due_at))


def from_vendor_reply(event_id: str, event: VendorReplyReceived) -> Notice:
    """Pass a vendor's request for information or resolution to the reporter; acknowledgements stay internal."""
    messages = ("vendor_update",) if event.kind in VENDOR_UPDATE_KINDS else ()
    return _notice(event_id, event, messages, vendor_name=event.vendor_name, kind=event.kind,
                     kind_words=VENDOR_KIND_WORDS.get(event.kind, event.kind), note=event.note)


def from_handoff_notice(event_id: str, event: OnCallHandoffNotice) -> Notice:
    """Tell the person whose on-call shift starts what the team has open, overdue and at risk."""
    return Notice(
        event_id=event_id, event_type=event.EVENT_TYPE, ticket_id=None, number=None, messages=("handoff_notice",),
        team=event.team, team_roles=(), people=(direct(event.person, "on_call"),),
        context={"team": event.team, "schedule": event.schedule_id, "person_name": event.person.name,
                 "start": when(event.start), "end": when(event.end), "open_count": event.open_count,
                 "at_risk_count": event.at_risk_count, "overdue_count": event.overdue_count,
                 "tickets": [t.model_dump() for t in event.tickets]},
    )
