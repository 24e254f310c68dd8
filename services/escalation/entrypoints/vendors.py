"""Tier 4 over the queue: publish owed hand-offs on `incidents.vendor`, consume vendors' replies.

Replies are validated against the VendorReply contract; bad ones (not JSON, wrong fields, unknown
hand-off) are republished to `escalation.vendor_replies.dlq` with the reason in the
`x-dead-letter-reason` header, like the shared consumer does; good ones are applied once per reply_id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from services.escalation.adapters.clocks import MongoClocks
from services.escalation.domain.inbound import RejectedReply, on_vendor_reply
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.clock import poll_forever
from shared.contracts.escalation_events import VendorReply
from shared.messaging.topology import (
    DEAD_LETTER_EXCHANGE,
    VENDOR_EXCHANGE,
    VENDOR_REPLIES,
    declare_exchanges,
)

log = logging.getLogger(__name__)


class VendorOutbox:
    """Publishes the `vendor_outbox` of clock records to `incidents.vendor` with confirms, then pops them.

    Writers hint the records that owe a hand-off; a scan for what a crash left runs once at start
    (never at rest), and a failed publish stays hinted and is retried.
    """

    def __init__(self, store: MongoClocks, exchange: AbstractExchange, *, poll_seconds: float = 1.0) -> None:
        self._store = store
        self._exchange = exchange
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._hints: set[str] = set()
        self._scan_due = True

    def hint(self, ticket_id: str) -> None:
        """Publish this record's owed hand-offs now."""
        self._hints.add(ticket_id)
        self._wake.set()

    async def run_once(self) -> int:
        """Publish the hinted records' hand-offs (and, once at start, every record's); return how many."""
        published = 0
        if self._scan_due:
            for document in await self._store.pending_vendor_messages(1000):
                self._hints.add(document["_id"])
            self._scan_due = False
        while self._hints:
            ticket_id = self._hints.pop()
            try:
                document = await self._store.get(ticket_id)
                for item in (document or {}).get("vendor_outbox", []):
                    await self._publish(item)
                    await self._store.pop_vendor_message(ticket_id, item["message_id"])
                    published += 1
            except Exception:
                self._hints.add(ticket_id)
                raise
        return published

    async def _publish(self, item: dict) -> None:
        """Publish one owed hand-off with confirms."""
        await self._exchange.publish(
            aio_pika.Message(json.dumps(item["body"]).encode(), content_type="application/json",
                             message_id=item["message_id"], type="vendor.handoff",
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             headers={"message_version": item["body"].get("message_version", 1)}),
            routing_key=item["routing_key"], timeout=10,
        )

    async def run(self) -> None:
        """Relay forever: when hinted (or every poll interval for a retry); errors are logged and retried."""
        await poll_forever("vendor outbox", self.run_once, self._wake, self._poll)


async def open_vendor_exchange(channel: AbstractChannel) -> AbstractExchange:
    """Return the vendor exchange on a confirm-mode channel (declared if missing)."""
    await declare_exchanges(channel)
    return await channel.get_exchange(VENDOR_EXCHANGE)


class VendorReplyConsumer:
    """Consumes `escalation.vendor_replies`; applies each valid reply once, dead-letters the rest."""

    def __init__(self, updater: ClockUpdater, *, delivery_limit: int) -> None:
        self._updater = updater
        self._delivery_limit = delivery_limit
        self._dlx: AbstractExchange | None = None

    async def start(self, channel: AbstractChannel, prefetch: int) -> None:
        """Declare the reply queue (bound to vendor.*.reply on incidents.vendor) and its DLQ; start consuming."""
        await channel.set_qos(prefetch_count=prefetch)
        await declare_exchanges(channel)
        vendor = await channel.get_exchange(VENDOR_EXCHANGE)
        self._dlx = await channel.get_exchange(DEAD_LETTER_EXCHANGE)
        dlq = await channel.declare_queue(VENDOR_REPLIES.dead_letter_queue, durable=True,
                                          arguments={"x-queue-type": "quorum"})
        await dlq.bind(self._dlx, routing_key=VENDOR_REPLIES.dead_letter_queue)
        queue = await channel.declare_queue(VENDOR_REPLIES.name, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": VENDOR_REPLIES.dead_letter_queue, "x-delivery-limit": self._delivery_limit,
        })
        for key in VENDOR_REPLIES.routing_keys:
            await queue.bind(vendor, routing_key=key)
        await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Validate and apply one reply; ack after it is stored."""
        try:
            reply = VendorReply.model_validate_json(message.body)
            expected = f"vendor.{reply.vendor_id}.reply"
            if message.routing_key and message.routing_key != expected:
                raise RejectedReply(f"reply of vendor {reply.vendor_id} arrived on {message.routing_key}")
            applied = await self._updater.apply(
                reply.ticket_id, f"vendor-reply:{reply.reply_id}",
                lambda doc, ctx, fx: on_vendor_reply(doc, reply, ctx, fx))
            if not applied:
                raise RejectedReply(f"no ticket {reply.ticket_id} is handed to a vendor")
        except ValidationError as exc:
            await self._dead_letter(message, f"bad vendor reply: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
            return
        except RejectedReply as exc:
            await self._dead_letter(message, str(exc))
            return
        except Exception as exc:
            attempts = int((message.headers or {}).get("x-delivery-count", 0) or 0) + 1
            if attempts >= self._delivery_limit:
                await self._dead_letter(message, f"applying the reply failed {attempts} times: {exc!r}")
            else:
                log.warning("vendor reply failed; will retry", exc_info=exc)
                await asyncio.sleep(0.5 * attempts)
                await message.nack(requeue=True)
            return
        await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Republish the reply unchanged to the DLQ with the reason, then ack it."""
        assert self._dlx is not None, "consumer not started"
        headers = dict(message.headers or {})
        headers.update({"x-dead-letter-reason": reason[:1000], "x-original-routing-key": message.routing_key or "",
                        "x-consumer": "escalation.vendor_replies",
                        "x-dead-lettered-at": datetime.now(UTC).isoformat()})
        await self._dlx.publish(
            aio_pika.Message(body=message.body, headers=headers, content_type=message.content_type,
                             message_id=message.message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=VENDOR_REPLIES.dead_letter_queue, timeout=10)
        await message.ack()
        log.error("vendor reply dead-lettered", extra={"x_reason": reason})
