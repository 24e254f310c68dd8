"""Escalation's message handlers: each applies one event to the ticket's clock, once per event_id.

What an event owes (SLA events, escalations, pages, vendor hand-offs) is stored in the clock
record's outbox in the same write, so handlers return no envelopes of their own.
"""

from __future__ import annotations

import logging
from functools import partial

from pydantic import BaseModel

from services.escalation.domain import inbound
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.contracts import Envelope, NotificationFailed
from shared.messaging.consumer import PermanentError

log = logging.getLogger(__name__)

MUTATIONS = {
    "ticket.triaged": inbound.on_triaged,
    "ticket.reclassified": inbound.on_reclassified,
    "ticket.status_changed": inbound.on_lifecycle,
    "ticket.acknowledged": inbound.on_lifecycle,
    "ticket.commented": inbound.on_lifecycle,
    "ticket.feedback_received": inbound.on_lifecycle,
    "ticket.escalation_requested": inbound.on_escalation_requested,
    "ticket.page_acknowledged": inbound.on_lifecycle,
    "notification.failed": inbound.on_notification_failed,
}
"""Event type -> the pure mutation it makes to a ticket's clock record."""

CREATORS = {"ticket.triaged", "ticket.status_changed", "ticket.acknowledged", "ticket.commented",
            "ticket.feedback_received", "ticket.page_acknowledged"}
"""Events that may create the clock record (they carry the ticket number); the others need one already."""


async def apply_to_clock(envelope: Envelope, event: BaseModel, *, updater: ClockUpdater) -> list[Envelope]:
    """Apply one event to its ticket's clock record once; events about tickets without one are skipped."""
    ticket_id = getattr(event, "ticket_id", None) or envelope.ticket_id
    if ticket_id is None:
        if isinstance(event, NotificationFailed):
            return []  # not about a ticket (e.g. a digest without one): nothing to escalate
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    mutation = MUTATIONS[envelope.event_type]
    creates = getattr(event, "number", None) if envelope.event_type in CREATORS else None
    applied = await updater.apply(ticket_id, envelope.event_id, partial(_call, mutation, event),
                                  create_number=creates, correlation_id=envelope.correlation_id,
                                  expect_new=envelope.event_type == "ticket.triaged")
    if not applied:
        log.info("no clock for this ticket; event ignored", extra={"x_event_type": envelope.event_type})
    return []


def _call(mutation, event, doc, ctx, fx) -> None:
    """Adapt a domain mutation (doc, event, ctx, fx) to ClockUpdater's (doc, ctx, fx)."""
    mutation(doc, event, ctx, fx)


def handlers(updater: ClockUpdater) -> dict[str, object]:
    """Return the handler for every event type bound to the escalation queue."""
    return {event_type: partial(apply_to_clock, updater=updater) for event_type in MUTATIONS}
