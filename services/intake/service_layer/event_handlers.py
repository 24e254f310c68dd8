"""Intake applies triage's, the SLA clocks' and the notifier's events to the ticket record, once per event."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from services.intake.adapters.tickets import Tickets
from services.intake.domain.sla import (
    OUTCOME_FIELD,
    clock_change_entry,
    clock_change_fields,
    outcome_document,
    outcome_entry,
)
from services.intake.domain.tickets import (
    duplicate_changes,
    reclassification_changes,
    system_actor,
    timeline_entry,
    triage_changes,
)
from services.intake.domain.timeline_words import failed_words, sent_words
from services.intake.service_layer import escalation_event_handlers as escalation
from services.intake.service_layer.applying import apply_event
from shared.clock import Clock
from shared.contracts import (
    Envelope,
    NotificationDelivered,
    NotificationFailed,
    TicketTriaged,
)
from shared.contracts.sla_events import SlaClockChanged, SlaMeasured
from shared.contracts.triage_events import TicketDuplicateDetected, TicketReclassified
from shared.messaging.consumer import Handler

OutcomeObserver = Callable[[SlaMeasured], None]
"""Told each measured outcome once it is stored (the SLA counters and histograms, adapters/sla_metrics.py)."""


async def apply_triage(envelope: Envelope, event: TicketTriaged, *, tickets: Tickets, clock: Clock) -> list[Envelope]:
    """Store triage's severity, tier, team and SLA due times on the ticket, once per event.

    An agent's severity override wins: triage's severity is then recorded but not applied.
    """
    now = clock.now()
    await apply_event(tickets, envelope, lambda ticket: triage_changes(ticket, event, now)[0],
                      lambda ticket: triage_changes(ticket, event, now)[1])
    return []


async def apply_reclassification(
    envelope: Envelope, event: TicketReclassified, *, tickets: Tickets, clock: Clock
) -> list[Envelope]:
    """Store the new severity, routing and due times, with old and new due times on the timeline."""
    fields, entry = reclassification_changes(event, clock.now())
    await apply_event(tickets, envelope, fields, entry)
    return []


async def link_duplicate(
    envelope: Envelope, event: TicketDuplicateDetected, *, tickets: Tickets, clock: Clock
) -> list[Envelope]:
    """Link a duplicate to its primary and record the primary's grown report and user counts."""
    for ticket_id, (fields, entry) in duplicate_changes(event, clock.now()).items():
        await apply_event(tickets, envelope, fields, entry, ticket_id=ticket_id)
    return []


async def apply_clock_change(envelope: Envelope, event: SlaClockChanged, *, tickets: Tickets,
                             clock: Clock) -> list[Envelope]:
    """Record a clock's new state on the ticket (and its due time while it runs), with a timeline entry."""
    now = clock.now()
    await apply_event(tickets, envelope, lambda ticket: {**clock_change_fields(ticket, event), "updated_at": now},
                      clock_change_entry(event, now))
    return []


async def record_outcome(envelope: Envelope, event: SlaMeasured, *, tickets: Tickets, clock: Clock,
                         observe: OutcomeObserver) -> list[Envelope]:
    """Store a target's outcome once (the report reads it) and, once stored, count it in the SLA metrics."""
    now = clock.now()
    field = OUTCOME_FIELD[event.target]
    guard = {} if event.target == "handoff" else {field: None}  # a hand-off is measured once per escalation
    written = await apply_event(tickets, envelope, {field: outcome_document(event), "updated_at": now},
                                outcome_entry(event, now), condition=guard)
    if written:
        observe(event)
    return []


async def record_notification(
    envelope: Envelope, event: NotificationDelivered | NotificationFailed, *, tickets: Tickets, clock: Clock
) -> list[Envelope]:
    """Add a delivered or failed notification to the ticket's timeline, once per event (none: not about a ticket).

    Failures carry internal addresses, endpoints and error text: they are internal entries. A notice
    sent to the reporter is public; one sent to staff (pages, team channels) is internal.
    """
    if envelope.ticket_id is None:
        return []  # e.g. an on-call hand-off notice: there is no ticket timeline to record it on
    now = clock.now()
    if isinstance(event, NotificationFailed):
        action, detail = "notification_failed", failed_words(event.message, event.channel, event.attempts, event.error)
        public = False
    else:
        action, detail = "notification_sent", sent_words(event.message, event.channel)
        public = event.role == "reporter"
    entry = timeline_entry(now, system_actor("notifier"), action, detail, channel=event.channel, message=event.message)
    entry["visibility"] = "public" if public else "internal"
    await apply_event(tickets, envelope, {"updated_at": now}, entry)
    return []


def handlers(tickets: Tickets, clock: Clock, observe: OutcomeObserver) -> dict[str, Handler]:
    """Return intake's handler for every event type bound to its queue, with its dependencies."""
    deps = {"tickets": tickets, "clock": clock}
    found: dict[str, Handler] = {
        "ticket.triaged": partial(apply_triage, **deps),
        "ticket.reclassified": partial(apply_reclassification, **deps),
        "ticket.duplicate_detected": partial(link_duplicate, **deps),
        "notification.delivered": partial(record_notification, **deps),
        "notification.failed": partial(record_notification, **deps),
        "sla.clock_changed": partial(apply_clock_change, **deps),
        "sla.measured": partial(record_outcome, **deps, observe=observe),
    }
    for event_type, handler in escalation.HANDLERS.items():
        found[event_type] = partial(handler, **deps)
    return found
