"""Intake's message handlers: apply other services' events to the ticket record."""

from __future__ import annotations

from shared.clock import Clock
from shared.contracts import Envelope, NotificationDelivered, NotificationFailed, TicketTriaged
from shared.messaging.consumer import PermanentError
from services.intake.adapters.tickets import MongoTickets
from shared.contracts.triage_events import TicketDuplicateDetected, TicketReclassified
from services.intake.domain.tickets import (
    duplicate_changes,
    reclassification_changes,
    system_actor,
    timeline_entry,
    triage_changes,
)


async def apply_triage(envelope: Envelope, event: TicketTriaged, *, tickets: MongoTickets, clock: Clock) -> list[Envelope]:
    """Store triage's severity, tier, team and SLA due times on the ticket, once per event.

    An agent's severity override wins: triage's severity is then recorded but not applied.
    """
    fields, entry = triage_changes(event, clock.now())
    current = await tickets.get(event.ticket_id)
    if current is not None and current.get("severity_source") == "agent":
        fields.pop("severity")
        entry["detail"] += f" (agent override {current['severity']} kept)"
    else:
        fields["severity_source"] = "triage"
    await _apply(tickets, envelope, fields, entry)
    return []


async def apply_reclassification(
    envelope: Envelope, event: TicketReclassified, *, tickets: MongoTickets, clock: Clock
) -> list[Envelope]:
    """Store the new severity, routing and due times, with old and new due times on the timeline."""
    fields, entry = reclassification_changes(event, clock.now())
    await _apply(tickets, envelope, fields, entry)
    return []


async def link_duplicate(
    envelope: Envelope, event: TicketDuplicateDetected, *, tickets: MongoTickets, clock: Clock
) -> list[Envelope]:
    """Link a duplicate to its primary and record the primary's grown report and user counts."""
    for ticket_id, (fields, entry) in duplicate_changes(event, clock.now()).items():
        try:
            await tickets.apply_once(ticket_id, envelope.event_id, fields, entry)
        except LookupError as exc:
            raise PermanentError(str(exc)) from exc
    return []


async def record_notification(
    envelope: Envelope, event: NotificationDelivered | NotificationFailed, *, tickets: MongoTickets, clock: Clock
) -> list[Envelope]:
    """Add a delivered or failed notification to the ticket's timeline, once per event."""
    now = clock.now()
    if isinstance(event, NotificationFailed):
        action, detail = "notification_failed", f"{event.message} by {event.channel} failed after {event.attempts} attempts: {event.error}"
    else:
        action, detail = "notification_sent", f"{event.message} sent by {event.channel}"
    entry = timeline_entry(now, system_actor("notifier"), action, detail, channel=event.channel, message=event.message)
    await _apply(tickets, envelope, {"updated_at": now}, entry)
    return []


async def _apply(tickets: MongoTickets, envelope: Envelope, fields: dict, entry: dict) -> None:
    """Apply once; a ticket that does not exist is a permanent error (the message is dead-lettered)."""
    if envelope.ticket_id is None:
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    try:
        await tickets.apply_once(envelope.ticket_id, envelope.event_id, fields, entry)
    except LookupError as exc:
        raise PermanentError(str(exc)) from exc
