"""Escalation's message handlers."""

from __future__ import annotations

import logging

from shared.clock import Clock
from shared.contracts import Envelope, NotificationFailed, TicketTriaged
from services.escalation.adapters.clocks import MongoClocks
from services.escalation.domain.clocks import clock_from_triage

log = logging.getLogger(__name__)


async def start_sla_clock(envelope: Envelope, event: TicketTriaged, *, clocks: MongoClocks, clock: Clock) -> list[Envelope]:
    """Store the SLA clock of a triaged ticket; a repeated event leaves the first clock untouched."""
    await clocks.start(event.ticket_id, clock_from_triage(event, clock.now()))
    return []


async def note_failed_notification(envelope: Envelope, event: NotificationFailed, *, clock: Clock) -> list[Envelope]:
    """Log an undeliverable notification so on-call sees it; paging the next contact builds on this."""
    log.warning(
        "notification undeliverable",
        extra={"x_channel": event.channel, "x_message": event.message, "x_error": event.error},
    )
    return []
