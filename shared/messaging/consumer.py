"""Typed, idempotent consumption: validate, handle once per event_id, publish results, then ack.

Malformed or unknown messages and messages whose handler keeps failing are republished to the
queue's dead-letter queue with the reason in headers; nothing loops forever.

Messages of one ticket are handled in arrival order, one after the other. With a Combiner, the
messages of one ticket that queued up behind the one being handled are handled together, in
their order, when it is done (one write of the ticket instead of one each); if that fails for
any reason, each is handled on its own, as without a Combiner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts import ContractError, Envelope, parse_message
from shared.logs import bind, unbind
from shared.messaging.dead_letter import dead_letter, delivery_attempts
from shared.messaging.outbox import OutboxRelay
from shared.messaging.topology import (
    QueueSpec,
    declare_consumer_queue,
    declare_exchanges,
)
from shared.metrics import PipelineMetrics

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, BaseModel], Awaitable[list[Envelope]]]


class PermanentError(Exception):
    """A handler failure that retrying cannot fix; the message goes straight to the DLQ."""


class Combiner(Protocol):
    """Handles several events of one ticket together, all or nothing."""

    def accepts(self, envelope: Envelope) -> bool:
        """Return True if this event may be handled together with others of its ticket."""
        ...

    async def apply(self, events: list[tuple[Envelope, BaseModel]]) -> None:
        """Apply the events in order, as their handlers would one by one; raise (having changed nothing) if it
        cannot."""
        ...


MAX_COMBINED = 16
"""Most messages handled together."""


@dataclass
class _Queued:
    """Messages of one ticket waiting behind the one being handled, to be handled together."""

    items: list[tuple[AbstractIncomingMessage, Envelope, BaseModel]]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Consumer:
    """Consumes one queue; each event is handled at most once per event_id and acked after storage."""

    def __init__(
        self,
        *,
        name: str,
        spec: QueueSpec,
        handlers: dict[str, Handler],
        inbox: AsyncCollection | None,
        relay: OutboxRelay,
        metrics: PipelineMetrics,
        delivery_limit: int,
        retry_delay_seconds: float = 0.5,
        combiner: Combiner | None = None,
    ) -> None:
        unknown = set(handlers) - set(spec.routing_keys)
        if unknown:
            raise ValueError(f"handlers for event types not bound to {spec.name}: {sorted(unknown)}")
        self.name = name
        self.spec = spec
        self._handlers = handlers
        self._inbox = inbox
        self._relay = relay
        self._metrics = metrics
        self._delivery_limit = delivery_limit
        self._retry_delay = retry_delay_seconds
        self._dlx: aio_pika.abc.AbstractExchange | None = None
        self._tails: dict[str, asyncio.Event] = {}
        self._combiner = combiner if inbox is None else None  # with an inbox, each event has its own record
        self._queued: dict[str, _Queued] = {}

    async def start(self, channel: AbstractChannel, prefetch: int) -> None:
        """Declare the topology and begin consuming on the channel."""
        await channel.set_qos(prefetch_count=prefetch)
        _, self._dlx = await declare_exchanges(channel)
        queue = await declare_consumer_queue(channel, self.spec, delivery_limit=self._delivery_limit)
        await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery; messages of the same ticket are processed in arrival order."""
        try:
            envelope, payload = parse_message(message.body)
        except ContractError as exc:
            await self._dead_letter(message, exc.reason, "contract")
            return
        except Exception as exc:  # a body no contract foresaw must not leave the message unacked
            await self._dead_letter(message, f"body cannot be decoded: {exc!r}", "contract")
            return
        key = envelope.ticket_id or envelope.event_id
        waiting = self._queued.get(key)
        if waiting is not None and len(waiting.items) < MAX_COMBINED and self._combinable(envelope):
            waiting.items.append((message, envelope, payload))  # handled (and acked) with the others
            await waiting.done.wait()
            return
        previous = self._tails.get(key)
        mine = asyncio.Event()  # an Event, not a Future: a cancelled waiter cannot cancel it for others
        self._tails[key] = mine
        self._queued.pop(key, None)  # nothing arriving after this message may be handled before it
        queued = _Queued([(message, envelope, payload)])
        if previous is not None and self._combinable(envelope):
            self._queued[key] = queued
        try:
            if previous is not None:
                await previous.wait()
            if self._queued.get(key) is queued:
                del self._queued[key]
            if len(queued.items) == 1:
                await self._process(message, envelope, payload)
            else:
                await self._process_together(queued.items)
        finally:
            queued.done.set()
            mine.set()
            if self._tails.get(key) is mine:
                del self._tails[key]

    def _combinable(self, envelope: Envelope) -> bool:
        """Return True if the event may wait to be handled together with others of its ticket."""
        return (self._combiner is not None and envelope.ticket_id is not None and envelope.event_type in self._handlers
                and self._combiner.accepts(envelope))

    async def _process_together(self, items: list[tuple[AbstractIncomingMessage, Envelope, BaseModel]]) -> None:
        """Apply one ticket's queued events together and ack them; if that fails, handle each on its own."""
        assert self._combiner is not None
        first = items[0][1]
        token = bind(ticket_id=first.ticket_id, event_id=first.event_id, correlation_id=first.correlation_id)
        started = time.perf_counter()
        try:
            await self._combiner.apply([(envelope, payload) for _, envelope, payload in items])
        except Exception as exc:  # each on its own: every event is applied once, whatever this attempt wrote
            log.info("events of one ticket handled one at a time", extra={"x_reason": repr(exc), "x_events": len(items)})
            unbind(token)
            for message, envelope, payload in items:
                await self._process(message, envelope, payload)
            return
        duration = time.perf_counter() - started
        self._metrics.combined_messages.labels(self.name).inc(len(items))
        try:
            for message, envelope, _ in items:
                await message.ack()
                self._metrics.messages_handled.labels(self.name, envelope.event_type).inc()
                self._metrics.handler_duration.labels(self.name).observe(duration)
        except Exception as exc:  # stored and applied once: the broker redelivers the rest, which changes nothing
            log.warning("ack failed after events were stored together", extra={"x_reason": repr(exc)})
        finally:
            unbind(token)

    async def _process(self, message: AbstractIncomingMessage, envelope: Envelope, payload: BaseModel) -> None:
        """Run the handler once per event_id, publish what it emitted, then ack (or retry/DLQ)."""
        if envelope.event_type not in self._handlers:
            await self._dead_letter(message, f"{self.name} has no handler for {envelope.event_type}", "unhandled")
            return
        token = bind(ticket_id=envelope.ticket_id, event_id=envelope.event_id, correlation_id=envelope.correlation_id)
        started = time.perf_counter()
        try:
            await self.handle(envelope, payload)
            await message.ack()
            self._metrics.messages_handled.labels(self.name, envelope.event_type).inc()
        except PermanentError as exc:
            await self._dead_letter(message, f"permanent failure: {exc}", "permanent")
        except Exception as exc:
            self._metrics.messages_failed.labels(self.name, envelope.event_type).inc()
            await self._retry_or_dead_letter(message, exc)
        finally:
            self._metrics.handler_duration.labels(self.name).observe(time.perf_counter() - started)
            unbind(token)

    async def handle(self, envelope: Envelope, payload: BaseModel) -> None:
        """Apply one event once per event_id and publish what its handler emitted; returns when that is stored.

        The broker-independent half of consuming (tests drive it directly). With an inbox, the inbox
        record is written after the handler with the events it emitted, and those are published from
        it. Without one, the handlers keep their own idempotency (the event id is recorded in the
        document they change, in the same write) and keep the events they owe in that document's
        outbox, so consuming costs no command of its own.
        """
        handler = self._handlers[envelope.event_type]
        if self._inbox is None:
            emitted = await handler(envelope, payload)
            if emitted:
                raise RuntimeError(f"{self.name} has no inbox, so its handlers must keep their events in an outbox")
            return
        record = await self._inbox.find_one({"_id": envelope.event_id})
        if record is None:
            emitted = await handler(envelope, payload)
            record = {
                "_id": envelope.event_id,
                "event_type": envelope.event_type,
                "handled_at": datetime.now(UTC),
                "outbox": [event.to_document() for event in emitted],
            }
            try:
                await self._inbox.insert_one(record)
            except DuplicateKeyError:
                record = await self._inbox.find_one({"_id": envelope.event_id}) or record
        await self._relay.flush(self._inbox, record)

    async def _retry_or_dead_letter(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        """Requeue after a short delay, or dead-letter once the delivery limit is reached."""
        attempts = delivery_attempts(message)
        if attempts >= self._delivery_limit:
            await self._dead_letter(message, f"handler failed {attempts} times: {exc!r}", "handler")
            return
        log.warning("handler failed; will retry", exc_info=exc, extra={"x_attempt": attempts})
        await asyncio.sleep(self._retry_delay * attempts)
        await message.nack(requeue=True)

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str, reason_class: str) -> None:
        """Republish the message unchanged to the DLQ with the reason in headers, then ack it."""
        assert self._dlx is not None, "consumer not started"
        await dead_letter(self._dlx, message, dead_letter_queue=self.spec.dead_letter_queue, consumer=self.name,
                          reason=reason)
        self._metrics.messages_dead_lettered.labels(self.name, reason_class).inc()
        log.error("message dead-lettered", extra={"x_reason": reason, "x_routing_key": message.routing_key})
