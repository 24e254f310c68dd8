"""Tier 4 over the queue: publish owed hand-offs on `incidents.vendor`, consume vendors' replies.

Replies must carry the vendor's broker-checked `user_id` and are validated against the VendorReply
contract; the rest (sender not proven, not JSON, wrong fields, unknown hand-off) are republished to
`escalation.vendor_replies.dlq` with the reason in the `x-dead-letter-reason` header, like the shared
consumer does; good ones are applied once per reply_id.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from services.escalation.adapters.clocks import MongoClocks
from services.escalation.domain.inbound import RejectedReply, on_vendor_reply
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.clock import poll_forever
from shared.contracts import ContractError
from shared.contracts.escalation_events import VendorReply
from shared.contracts.json_body import load_json_object
from shared.messaging.dead_letter import dead_letter, delivery_attempts
from shared.messaging.identity import sender_problem, vendor_of_reply_key
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
    """Consumes `escalation.vendor_replies`; applies each reply the vendor is proven to have sent, once.

    The claimed vendor is the routing key's `vendor.<id>.reply`; the message's broker-checked `user_id`
    must be that vendor's RabbitMQ user on this vhost (shared.messaging.identity). Anything else, and
    any body that does not decode to a valid reply of that vendor, goes to the DLQ with the reason.
    """

    def __init__(self, updater: ClockUpdater, *, delivery_limit: int, vhost: str) -> None:
        self._updater = updater
        self._delivery_limit = delivery_limit
        self._vhost = vhost
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

    def proven_reply(self, message: AbstractIncomingMessage) -> VendorReply:
        """Return the reply if its sender is proven to be the vendor it names; raises RejectedReply otherwise."""
        vendor_id = vendor_of_reply_key(message.routing_key or "")
        if vendor_id is None:
            raise RejectedReply(f"routing key {message.routing_key!r} is not vendor.<vendor_id>.reply")
        problem = sender_problem(message.user_id, vendor_id, self._vhost)
        if problem is not None:
            raise RejectedReply(problem)
        try:
            reply = VendorReply.model_validate(load_json_object(message.body))
        except ContractError as exc:
            raise RejectedReply(f"bad vendor reply: {exc.reason}") from exc
        except ValidationError as exc:
            error = exc.errors()[0]
            raise RejectedReply(f"bad vendor reply: {error['loc']}: {error['msg']}") from exc
        if reply.vendor_id != vendor_id:
            raise RejectedReply(f"reply of vendor {reply.vendor_id} arrived on {message.routing_key}")
        return reply

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Check, validate and apply one reply; ack after it is stored (or dead-letter it with the reason)."""
        try:
            reply = self.proven_reply(message)
            applied = await self._updater.apply(
                reply.ticket_id, f"vendor-reply:{reply.reply_id}",
                lambda doc, ctx, fx: on_vendor_reply(doc, reply, ctx, fx))
            if not applied:
                raise RejectedReply(f"no ticket {reply.ticket_id} is handed to a vendor")
        except RejectedReply as exc:
            await self._dead_letter(message, str(exc))
            return
        except Exception as exc:
            attempts = delivery_attempts(message)
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
        await dead_letter(self._dlx, message, dead_letter_queue=VENDOR_REPLIES.dead_letter_queue,
                          consumer=VENDOR_REPLIES.name, reason=reason)
        log.error("vendor reply dead-lettered", extra={"x_reason": reason, "x_routing_key": message.routing_key})
