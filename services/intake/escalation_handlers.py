"""Intake applies escalation's events to the ticket and its timeline, once per event.

Status moves asked for by escalation (a vendor's resolved or need-info answer, auto-close) go
through the lifecycle table like any other move and emit the usual lifecycle events.
"""

from __future__ import annotations

from typing import Any

from shared.clock import Clock
from shared.contracts import Envelope, make_envelope
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
from shared.documents import guarded_update
from shared.messaging.consumer import PermanentError
from services.intake.adapters.tickets import MongoTickets, remember_event
from services.intake.domain.actions import Change, move
from services.intake.domain.lifecycle import IllegalTransition, Mover, Status
from services.intake.domain.tickets import system_actor, timeline_entry

PRODUCER = "intake"
ATTEMPTS = 5


def _entry(at, action: str, detail: str, *, public: bool = False, **data: Any) -> dict[str, Any]:
    """Return a timeline entry by the escalation service."""
    entry = timeline_entry(at, system_actor("escalation"), action, detail, **data)
    entry["visibility"] = "public" if public else "internal"
    return entry


async def _nested(tickets: MongoTickets, ticket_id: str, parent: str, key: str, value: Any) -> dict[str, Any]:
    """Return the $set of parent.key, or of the whole parent when the ticket has none yet (null cannot nest)."""
    current = await tickets.get(ticket_id)
    if current is None:
        raise PermanentError(f"ticket {ticket_id} does not exist")
    if isinstance(current.get(parent), dict):
        return {f"{parent}.{key}": value}
    return {parent: {key: value}}


async def _apply(tickets: MongoTickets, envelope: Envelope, fields: dict, entry: dict) -> None:
    """Apply once; a ticket that does not exist is a permanent error (the message is dead-lettered)."""
    if envelope.ticket_id is None:
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    try:
        await tickets.apply_once(envelope.ticket_id, envelope.event_id, fields, entry)
    except LookupError as exc:
        raise PermanentError(str(exc)) from exc


async def record_sla_event(envelope: Envelope, event: SlaWarning | SlaBreached, *, tickets: MongoTickets,
                           clock: Clock) -> list[Envelope]:
    """Record an SLA warning or breach on the timeline (support only); a breach also on the ticket's sla."""
    now = clock.now()
    if isinstance(event, SlaBreached):
        fields = {**await _nested(tickets, event.ticket_id, "sla", f"{event.target}_breached_at", event.at),
                  "updated_at": now}
        entry = _entry(now, "sla_breached", f"The {event.target} target ({event.due_at.isoformat()}) was missed",
                       target=event.target)
    else:
        fields = {"updated_at": now}
        entry = _entry(now, "sla_warning", f"{round(event.fraction * 100)}% of the {event.target} time used; "
                       f"due {event.due_at.isoformat()}", target=event.target, fraction=event.fraction)
    await _apply(tickets, envelope, fields, entry)
    return []


async def apply_escalation(envelope: Envelope, event: TicketEscalated, *, tickets: MongoTickets,
                           clock: Clock) -> list[Envelope]:
    """Move the ticket to its new tier and team, start the hand-off due time, adopt a new number (linked)."""
    now = clock.now()
    fields: dict[str, Any] = {"tier": event.to_tier, "team": event.team, "updated_at": now,
                              **await _nested(tickets, event.ticket_id, "sla", "handoff_due_at", event.handoff_due_at)}
    detail = f"Escalated from Tier {event.from_tier} to Tier {event.to_tier} ({event.team}): {event.reason}"
    if event.new_number:
        current = await tickets.get(event.ticket_id)
        if current is None:
            raise PermanentError(f"ticket {event.ticket_id} does not exist")
        await tickets.reserve_number(event.new_number, event.ticket_id)
        fields["number"] = event.new_number
        fields["previous_numbers"] = [*current.get("previous_numbers", []), event.previous_number]
        detail += f". New ticket number {event.new_number} (was {event.previous_number})"
    entry = _entry(now, "escalated", detail, public=True, from_tier=event.from_tier, to_tier=event.to_tier,
                   trigger=event.trigger, new_number=event.new_number)
    await _apply(tickets, envelope, fields, entry)
    return []


async def record_page(envelope: Envelope, event: EscalationPageRequested, *, tickets: MongoTickets,
                      clock: Clock) -> list[Envelope]:
    """Record a (repeated) page on the timeline, support only."""
    now = clock.now()
    entry = _entry(now, "page_requested", f"Paging {event.role} of {event.team} (attempt {event.attempt}): "
                   f"{event.reason}", role=event.role, attempt=event.attempt)
    await _apply(tickets, envelope, {"updated_at": now}, entry)
    return []


async def record_vendor_handoff(envelope: Envelope, event: VendorHandoffSent, *, tickets: MongoTickets,
                                clock: Clock) -> list[Envelope]:
    """Record that the ticket was handed to a vendor and when it must answer."""
    now = clock.now()
    fields = {"vendor": {"id": event.vendor_id, "name": event.vendor_name, "handoff_id": event.handoff_id,
                         "answer_due_at": event.answer_due_at}, "updated_at": now}
    entry = _entry(now, "vendor_handoff", f"Handed to {event.vendor_name}; answer due {event.answer_due_at.isoformat()}",
                   vendor=event.vendor_id)
    await _apply(tickets, envelope, fields, entry)
    return []


async def apply_vendor_reply(envelope: Envelope, event: VendorReplyReceived, *, tickets: MongoTickets,
                             clock: Clock) -> list[Envelope]:
    """Record a vendor's answer; resolved moves the ticket to resolved and need_info to waiting_for_info.

    The moves are made by `system` on the vendor's behalf. Asking the reporter for information is a
    support agent's move in the lifecycle table; the vendor is acting as the support engineer here.
    """
    actor = Actor(type="system", id="escalation", name=f"{event.vendor_name} (vendor, via escalation)")
    label = {"acknowledged": "acknowledged the hand-off", "update": "sent an update", "need_info": "needs information",
             "resolved": "resolved the issue"}[event.kind]

    def build(ticket: dict[str, Any], now) -> Change:
        change = Change(ticket, now)
        change.note(actor, "vendor_reply", f"{event.vendor_name} {label}: {event.note}",
                    internal=event.kind in ("acknowledged", "update"), vendor=event.vendor_id, kind=event.kind)
        vendor = ticket.get("vendor")
        change.fields["vendor"] = {**(vendor if isinstance(vendor, dict) else {}), "state": event.kind}
        try:
            if event.kind == "resolved":
                if change.current("status") == Status.OPEN:
                    move(change, actor, Status.IN_PROGRESS, f"{event.vendor_name} answered")
                move(change, actor, Status.RESOLVED, f"resolved by {event.vendor_name}")
                change.fields["resolution"] = {"proposed_solution": event.note, "by": event.vendor_name}
                change.emit(TicketResolved, actor, proposed_solution=event.note)
            elif event.kind == "need_info" and change.current("status") != Status.WAITING_FOR_INFO:
                move(change, actor, Status.WAITING_FOR_INFO, event.note, mover=Mover.AGENT)
        except IllegalTransition as exc:
            change.note(actor, "vendor_reply_not_applied", f"status left as it is: {exc}", internal=True)
        return change

    await _perform_once(tickets, envelope, build, clock)
    return []


async def apply_auto_close(envelope: Envelope, event: TicketAutoCloseDue, *, tickets: MongoTickets,
                           clock: Clock) -> list[Envelope]:
    """Close a ticket still resolved with no feedback, by `system`, with a notice; anything else is left alone."""
    actor = Actor(type="system", id="escalation", name="escalation")

    def build(ticket: dict[str, Any], now) -> Change:
        change = Change(ticket, now)
        if ticket["status"] != Status.RESOLVED:
            change.note(actor, "auto_close_skipped", f"Auto-close not needed: the ticket is {ticket['status']}",
                        internal=True)
            return change
        move(change, actor, Status.CLOSED,
             f"no feedback within {event.business_days} business days of the resolution; closed automatically",
             mover=Mover.SYSTEM)
        return change

    await _perform_once(tickets, envelope, build, clock)
    return []


async def _perform_once(tickets: MongoTickets, envelope: Envelope, build, clock: Clock) -> None:
    """Apply the change build(ticket, now) describes once per event, guarded on the status it was built from."""
    if envelope.ticket_id is None:
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    for _ in range(ATTEMPTS):
        ticket = await tickets.collection.find_one({"_id": envelope.ticket_id}, {"outbox": 0, "timeline": 0})
        if ticket is None:
            raise PermanentError(f"ticket {envelope.ticket_id} does not exist")
        if envelope.event_id in ticket.get("applied_events", []):
            return
        now = clock.now()
        change = build(ticket, now)
        events = [make_envelope(e, producer=PRODUCER, occurred_at=now, ticket_id=ticket["_id"],
                                correlation_id=envelope.correlation_id).to_document() for e in change.events]
        def update(current: dict, change=change, events=events, now=now) -> dict:
            return {"$set": {**change.fields, "updated_at": now,
                             "applied_events": remember_event(current, envelope.event_id)},
                    "$push": {"timeline": {"$each": change.entries}, "outbox": {"$each": events}}}

        condition = {**change.condition, "applied_events": {"$ne": envelope.event_id}}
        if await guarded_update(tickets.collection, ticket["_id"], condition, update, locks=tickets.locks):
            return
    raise RuntimeError(f"ticket {envelope.ticket_id} kept changing while {envelope.event_type} was applied")


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
