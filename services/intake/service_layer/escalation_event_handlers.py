"""Intake applies escalation's events to the ticket and its timeline, once per event.

Status moves asked for by escalation (a vendor's resolved or need-info answer, auto-close) go
through the lifecycle table like any other move and emit the usual lifecycle events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import TicketUpdate, move
from services.intake.domain.lifecycle import IllegalTransition, Mover
from services.intake.domain.tickets import set_within, system_actor, timeline_entry
from services.intake.service_layer.applying import (
    apply_event,
    current_ticket,
    perform_once,
    ticket_id_of,
)
from shared.clock import Clock
from shared.contracts import Envelope, Status
from shared.contracts.escalation_events import (
    EscalationPageRequested,
    SlaBreached,
    SlaWarning,
    TicketAutoCloseDue,
    TicketEscalated,
    VendorHandoffSent,
    VendorReplyReceived,
)
from shared.contracts.lifecycle_events import Actor, TicketResolved


def _entry(at, action: str, detail: str, *, public: bool = False, **data: Any) -> dict[str, Any]:
    """Return a timeline entry by the escalation service."""
    entry = timeline_entry(at, system_actor("escalation"), action, detail, **data)
    entry["visibility"] = "public" if public else "internal"
    return entry


async def record_sla_event(envelope: Envelope, event: SlaWarning | SlaBreached, *, tickets: Tickets,
                           clock: Clock) -> list[Envelope]:
    """Record an SLA warning or breach on the timeline (support only); a breach also on the ticket's sla."""
    now = clock.now()
    if isinstance(event, SlaBreached):
        def fields(ticket: dict[str, Any]) -> dict[str, Any]:
            return {**set_within(ticket, "sla", {f"{event.target}_breached_at": event.at}), "updated_at": now}

        entry = _entry(now, "sla_breached", f"The {event.target} target ({event.due_at.isoformat()}) was missed",
                       target=event.target)
    else:
        fields = {"updated_at": now}
        entry = _entry(now, "sla_warning", f"{round(event.fraction * 100)}% of the {event.target} time used; "
                       f"due {event.due_at.isoformat()}", target=event.target, fraction=event.fraction)
    await apply_event(tickets, envelope, fields, entry)
    return []


async def apply_escalation(envelope: Envelope, event: TicketEscalated, *, tickets: Tickets,
                           clock: Clock) -> list[Envelope]:
    """Move the ticket to its new tier and team, start the hand-off due time, adopt a new number (linked)."""
    now = clock.now()
    await current_ticket(tickets, ticket_id_of(envelope))
    detail = f"Escalated from Tier {event.from_tier} to Tier {event.to_tier} ({event.team}): {event.reason}"
    if event.new_number:
        await tickets.reserve_number(event.new_number, event.ticket_id)
        detail += f". New ticket number {event.new_number} (was {event.previous_number})"

    def fields(current: dict[str, Any]) -> dict[str, Any]:
        step = {"at": event.escalated_at, "from_tier": event.from_tier, "to_tier": event.to_tier,
                "trigger": event.trigger, "reason": event.reason, "previous_number": event.previous_number,
                "new_number": event.new_number}
        moved: dict[str, Any] = {"tier": event.to_tier, "team": event.team, "updated_at": now,
                                 "escalations": [*current.get("escalations", []), step],
                                 **set_within(current, "sla", {"handoff_due_at": event.handoff_due_at})}
        if event.new_number:
            moved["number"] = event.new_number
            moved["previous_numbers"] = [*current.get("previous_numbers", []), event.previous_number]
        return moved

    entry = _entry(now, "escalated", detail, public=True, from_tier=event.from_tier, to_tier=event.to_tier,
                   trigger=event.trigger, new_number=event.new_number)
    await apply_event(tickets, envelope, fields, entry)
    return []


async def record_page(envelope: Envelope, event: EscalationPageRequested, *, tickets: Tickets,
                      clock: Clock) -> list[Envelope]:
    """Record a (repeated) page on the timeline, support only: whom it named, if an on-call policy paged people."""
    now = clock.now()
    whom = f"{event.role} of {event.team} (attempt {event.attempt})"
    if event.people is not None:
        named = [p.name for p in event.people] + [f"the {c} channel" for c in event.channels or []]
        whom = f"{', '.join(named)} ({whom})"
    entry = _entry(now, "page_requested", f"Paging {whom}: {event.reason}", role=event.role, attempt=event.attempt,
                   step=event.step, people=[p.id for p in event.people or []])
    await apply_event(tickets, envelope, {"updated_at": now}, entry)
    return []


async def record_vendor_handoff(envelope: Envelope, event: VendorHandoffSent, *, tickets: Tickets,
                                clock: Clock) -> list[Envelope]:
    """Record that the ticket was handed to a vendor and when it must answer."""
    now = clock.now()
    fields = {"vendor": {"id": event.vendor_id, "name": event.vendor_name, "handoff_id": event.handoff_id,
                         "answer_due_at": event.answer_due_at, "handed_at": event.sent_at}, "updated_at": now}
    entry = _entry(now, "vendor_handoff", f"Handed to {event.vendor_name}; answer due {event.answer_due_at.isoformat()}",
                   vendor=event.vendor_id)
    await apply_event(tickets, envelope, fields, entry)
    return []


async def apply_vendor_reply(envelope: Envelope, event: VendorReplyReceived, *, tickets: Tickets,
                             clock: Clock) -> list[Envelope]:
    """Record a vendor's answer; resolved moves the ticket to resolved and need_info to waiting_for_info.

    The moves are made by `system` on the vendor's behalf. Asking the reporter for information is a
    support agent's move in the lifecycle table; the vendor is acting as the support engineer here.
    """
    actor = Actor(type="system", id="escalation", name=f"{event.vendor_name} (vendor, via escalation)")
    label = {"acknowledged": "acknowledged the hand-off", "update": "sent an update", "need_info": "needs information",
             "resolved": "resolved the issue"}[event.kind]

    def decide(ticket: dict[str, Any], now: datetime) -> TicketUpdate:
        update = TicketUpdate(ticket, now)
        update.note(actor, "vendor_reply", f"{event.vendor_name} {label}: {event.note}",
                    internal=event.kind in ("acknowledged", "update"), vendor=event.vendor_id, kind=event.kind)
        vendor = ticket.get("vendor") if isinstance(ticket.get("vendor"), dict) else {}
        update.fields["vendor"] = {**vendor, "state": event.kind}
        if vendor.get("handoff_id") == event.handoff_id and not vendor.get("answered_at"):
            update.fields["vendor"]["answered_at"] = event.received_at  # the first answer to this hand-off
        try:
            if event.kind == "resolved":
                if update.current("status") == Status.OPEN:
                    move(update, actor, Status.IN_PROGRESS, f"{event.vendor_name} answered")
                move(update, actor, Status.RESOLVED, f"resolved by {event.vendor_name}")
                update.fields["resolution"] = {"proposed_solution": event.note, "by": event.vendor_name}
                update.emit(TicketResolved, actor, proposed_solution=event.note)
            elif event.kind == "need_info" and update.current("status") != Status.WAITING_FOR_INFO:
                move(update, actor, Status.WAITING_FOR_INFO, event.note, mover=Mover.AGENT)
        except IllegalTransition as exc:
            update.note(actor, "vendor_reply_not_applied", f"status left as it is: {exc}", internal=True)
        return update

    await perform_once(tickets, envelope, decide, clock)
    return []


async def apply_auto_close(envelope: Envelope, event: TicketAutoCloseDue, *, tickets: Tickets,
                           clock: Clock) -> list[Envelope]:
    """Close a ticket still resolved with no feedback, by `system`, with a notice; anything else is left alone."""
    actor = Actor(type="system", id="escalation", name="escalation")

    def decide(ticket: dict[str, Any], now: datetime) -> TicketUpdate:
        update = TicketUpdate(ticket, now)
        if ticket["status"] != Status.RESOLVED:
            update.note(actor, "auto_close_skipped", f"Auto-close not needed: the ticket is {ticket['status']}",
                        internal=True)
            return update
        move(update, actor, Status.CLOSED,
             f"no feedback within {event.business_days} business days of the resolution; closed automatically",
             mover=Mover.SYSTEM)
        return update

    await perform_once(tickets, envelope, decide, clock)
    return []


HANDLERS = {
    "sla.warning": record_sla_event,
    "sla.breached": record_sla_event,
    "ticket.escalated": apply_escalation,
    "escalation.page_requested": record_page,
    "vendor.handoff_sent": record_vendor_handoff,
    "vendor.reply_received": apply_vendor_reply,
    "ticket.auto_close_due": apply_auto_close,
}
"""Escalation event type -> intake handler (each takes tickets= and clock=)."""
