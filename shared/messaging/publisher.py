"""Confirmed, persistent publishing of envelopes to the events exchange."""

from __future__ import annotations

from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from shared.contracts import Envelope
from shared.messaging.topology import declare_exchanges


class Publisher(Protocol):
    """Anything that can publish an envelope and return once the broker confirmed it."""

    async def publish(self, envelope: Envelope) -> None: ...


def to_message(envelope: Envelope) -> aio_pika.Message:
    """Return the persistent AMQP message carrying an envelope."""
    return aio_pika.Message(
        body=envelope.to_bytes(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=envelope.event_id,
        correlation_id=envelope.correlation_id,
        type=envelope.event_type,
        timestamp=envelope.occurred_at,
        app_id=envelope.producer,
        headers={"event_version": envelope.event_version},
    )


class AmqpPublisher:
    """Publishes to `incidents.events` with the event type as routing key, waiting for confirms."""

    def __init__(self, exchange: AbstractExchange, on_published=None) -> None:
        self._exchange = exchange
        self._on_published = on_published

    @classmethod
    async def create(cls, channel: AbstractChannel, on_published=None) -> AmqpPublisher:
        """Return a publisher on a confirm-mode channel, declaring the exchanges first."""
        events, _ = await declare_exchanges(channel)
        return cls(events, on_published)

    async def publish(self, envelope: Envelope) -> None:
        """Publish one envelope; returns only after the broker confirmed it, else raises."""
        await self._exchange.publish(to_message(envelope), routing_key=envelope.event_type, timeout=10)
        if self._on_published is not None:
            self._on_published(envelope)
