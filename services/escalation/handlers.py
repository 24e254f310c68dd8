"""Escalation's message handlers: each applies one event to the ticket's clock, once per event_id.

What an event owes (SLA events, escalations, pages, vendor hand-offs) is stored in the clock
document's outbox in the same write, so handlers return no envelopes of their own.
"""

from __future__ import annotations

import logging
from functools import partial

from pydantic import BaseModel

from shared.contracts import Envelope, NotificationFailed
from shared.messaging.consumer import PermanentError
from services.escalation.clockwork import Clockwork
from services.escalation.domain import apply

log = logging.getLogger(__name__)

CHANGES = {
    "ticket.reported": apply.on_reported,
    "ticket.triaged": apply.on_triaged,
    "ticket.reclassified": apply.on_reclassified,
    "ticket.status_changed": apply.on_lifecycle,
    "ticket.acknowledged": apply.on_lifecycle,
    "ticket.commented": apply.on_lifecycle,
    "ticket.feedback_received": apply.on_lifecycle,
    "notification.failed": apply.on_notification_failed,
}
"""Event type -> the pure change it makes to a clock."""

CREATORS = {"ticket.reported", "ticket.triaged", "ticket.status_changed", "ticket.acknowledged", "ticket.commented",
            "ticket.feedback_received"}
"""Events that may create the clock (they carry the ticket number); the others need one already."""


async def apply_to_clock(envelope: Envelope, event: BaseModel, *, clockwork: Clockwork) -> list[Envelope]:
    """Apply one event to its ticket's clock once; events about tickets without a clock are skipped."""
    ticket_id = getattr(event, "ticket_id", None) or envelope.ticket_id
    if ticket_id is None:
        if isinstance(event, NotificationFailed):
            return []  # not about a ticket (e.g. a digest without one): nothing to escalate
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    change = CHANGES[envelope.event_type]
    creates = getattr(event, "number", None) if envelope.event_type in CREATORS else None
    applied = await clockwork.apply(ticket_id, envelope.event_id, partial(_call, change, event),
                                    create_number=creates, correlation_id=envelope.correlation_id)
    if not applied:
        log.info("no clock for this ticket; event ignored", extra={"x_event_type": envelope.event_type})
    return []


def _call(change, event, doc, ctx, fx) -> None:
    """Adapt a domain change (doc, event, ctx, fx) to Clockwork's (doc, ctx, fx)."""
    change(doc, event, ctx, fx)


def handlers(clockwork: Clockwork) -> dict[str, object]:
    """Return the handler for every event type bound to the escalation queue."""
    return {event_type: partial(apply_to_clock, clockwork=clockwork) for event_type in CHANGES}
