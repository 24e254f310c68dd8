"""The whole broker topology, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

EVENTS_EXCHANGE = "incidents.events"
VENDOR_EXCHANGE = "incidents.vendor"
DEAD_LETTER_EXCHANGE = "incidents.dlx"


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's durable quorum queue and the event types bound to it."""

    name: str
    routing_keys: tuple[str, ...]

    @property
    def dead_letter_queue(self) -> str:
        """Return the name of this queue's dead-letter queue."""
        return f"{self.name}.dlq"


CONSUMER_QUEUES: dict[str, QueueSpec] = {
    "intake": QueueSpec(
        "intake.events",
        ("ticket.triaged", "ticket.duplicate_detected", "ticket.reclassified",
         "notification.delivered", "notification.failed",
         "sla.warning", "sla.breached", "ticket.escalated", "escalation.page_requested",
         "vendor.handoff_sent", "vendor.reply_received", "ticket.auto_close_due",
         "sla.clock_changed", "sla.measured", "oncall.shift_started"),
    ),
    "triage": QueueSpec("triage.events", ("ticket.reported", "ticket.severity_changed")),
    "escalation": QueueSpec(
        "escalation.events",
        ("ticket.triaged", "notification.failed", "ticket.reclassified",
         "ticket.status_changed", "ticket.acknowledged", "ticket.commented", "ticket.feedback_received",
         "ticket.escalation_requested", "ticket.page_acknowledged"),
    ),
    "notifier": QueueSpec(
        "notifier.events",
        ("ticket.triaged", "ticket.status_changed", "ticket.resolved", "ticket.commented",
         "ticket.severity_changed", "ticket.reclassified",
         "sla.warning", "sla.breached", "ticket.escalated", "escalation.page_requested",
         "vendor.handoff_sent", "vendor.reply_received", "oncall.handoff_notice"),
    ),
}


VENDOR_REPLIES = QueueSpec("escalation.vendor_replies", ("vendor.*.reply",))
"""Vendors' answers, bound on VENDOR_EXCHANGE (not the events exchange); see docs/asyncapi-vendor.yaml."""


async def declare_exchanges(channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
    """Declare the events, vendor and dead-letter exchanges; return (events, dead-letter)."""
    events = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(VENDOR_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    return events, dlx


async def declare_consumer_queue(
    channel: AbstractChannel, spec: QueueSpec, *, delivery_limit: int
) -> AbstractQueue:
    """Declare the queue, its dead-letter queue and bindings; return the consumer queue."""
    events, dlx = await declare_exchanges(channel)
    dlq = await channel.declare_queue(
        spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dlx, routing_key=spec.dead_letter_queue)
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.dead_letter_queue,
            "x-delivery-limit": delivery_limit,
        },
    )
    for key in spec.routing_keys:
        await queue.bind(events, routing_key=key)
    return queue
