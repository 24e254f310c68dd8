"""An example vendor: receives hand-offs on `incidents.vendor` and answers them (see docs/asyncapi-vendor.yaml).

The vendor connects with the credentials `incidents vendors add acme` printed: its own RabbitMQ user,
which may read only its queue `vendor.acme.handoffs` (or other `vendor.acme.*` queues it binds to
`vendor.acme.handoff`) and publish only on `vendor.acme.reply`, with `user_id` set to its user name.

Library use (tests):
    async with VendorClient(vendor_amqp_url, "acme") as vendor:
        handoff = await vendor.next_handoff(timeout=30)
        await vendor.reply(handoff, "resolved", "Rotated the expired API certificate")

Command line (answers every hand-off with one kind of reply):
    VENDOR_AMQP_URL='amqp://vendor.acme:...@127.0.0.1:5672/%2F' \
    python -m services.escalation.adapters.vendor_client --vendor acme --reply acknowledged --note "On it"
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.contracts.escalation_events import (
    VendorHandoff,
    VendorReply,
    VendorReplyKind,
    vendor_routing_key,
)
from shared.ids import new_id
from shared.messaging.failover import connect_failover
from shared.messaging.identity import user_of, vendor_queue
from shared.messaging.topology import VENDOR_EXCHANGE


class VendorClient:
    """One vendor's side of the protocol: a queue of hand-offs for it, and replies on its reply key.

    Without queue_name it reads the queue provisioned for it; with one (`vendor.<id>.<anything>`) it
    declares that queue and binds it to its hand-off key. Every reply carries user_id = its user.
    """

    def __init__(self, amqp_url: str, vendor_id: str, *, queue_name: str | None = None) -> None:
        self.amqp_url = amqp_url
        self.vendor_id = vendor_id
        self.user = user_of(amqp_url)
        self.queue_name = queue_name or vendor_queue(vendor_id)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None

    async def __aenter__(self) -> VendorClient:
        self._connection = await connect_failover(self.amqp_url)  # one URL, or every node of a cluster
        self._channel = await self._connection.channel(publisher_confirms=True)
        # passive: a vendor may not declare exchanges, and its own queue exists since it was provisioned
        self._exchange = await self._channel.get_exchange(VENDOR_EXCHANGE, ensure=True)
        if self.queue_name == vendor_queue(self.vendor_id):
            self._queue = await self._channel.get_queue(self.queue_name, ensure=True)
        else:
            self._queue = await self._channel.declare_queue(self.queue_name, durable=True)
            await self._queue.bind(self._exchange, routing_key=vendor_routing_key(self.vendor_id, "handoff"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def next_handoff(self, timeout: float = 30.0) -> VendorHandoff:
        """Return the next hand-off for this vendor (acked once parsed); raises TimeoutError if none comes."""
        assert self._queue is not None, "use the client as an async context manager"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self._queue.get(no_ack=False, fail=False)
            if message is not None:
                handoff = VendorHandoff.model_validate_json(message.body)
                await message.ack()
                return handoff
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no hand-off for {self.vendor_id} within {timeout}s")
            await asyncio.sleep(0.1)

    async def reply(self, handoff: VendorHandoff, kind: VendorReplyKind, note: str, author: str | None = None) -> VendorReply:
        """Publish a reply to a hand-off on its reply routing key (with confirms); return what was sent."""
        assert self._exchange is not None, "use the client as an async context manager"
        reply = VendorReply(reply_id=new_id(), handoff_id=handoff.handoff_id, vendor_id=self.vendor_id,
                            ticket_id=handoff.ticket_id, kind=kind, note=note, author=author,
                            sent_at=datetime.now(UTC))
        await self.publish_raw(reply.model_dump_json().encode(), handoff.reply_routing_key, reply.reply_id)
        return reply

    async def publish_raw(self, body: bytes, routing_key: str, message_id: str | None = None) -> None:
        """Publish any body on the vendor exchange as this vendor (tests use it to send invalid replies)."""
        assert self._exchange is not None, "use the client as an async context manager"
        await self._exchange.publish(
            aio_pika.Message(body, content_type="application/json", message_id=message_id or new_id(),
                             type="vendor.reply", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             user_id=self.user, headers={"message_version": 1}),
            routing_key=routing_key, timeout=10)


async def _serve(amqp_url: str, vendor_id: str, kind: VendorReplyKind, note: str) -> None:
    """Answer every hand-off with the same reply, forever."""
    async with VendorClient(amqp_url, vendor_id) as vendor:
        while True:
            try:
                handoff = await vendor.next_handoff(timeout=3600)
            except TimeoutError:
                continue
            print(f"hand-off {handoff.handoff_id} for {handoff.ticket.number}: {handoff.ticket.title}", flush=True)
            await vendor.reply(handoff, kind, note)


def main(argv: list[str] | None = None) -> int:
    """Run the example vendor from the command line."""
    parser = argparse.ArgumentParser(description="Example vendor for the incidents.vendor protocol")
    parser.add_argument("--amqp-url", default=os.environ.get("VENDOR_AMQP_URL"),
                        help="the URL `incidents vendors add` printed (default: env VENDOR_AMQP_URL)")
    parser.add_argument("--vendor", required=True)
    parser.add_argument("--reply", default="acknowledged", choices=["acknowledged", "update", "need_info", "resolved"])
    parser.add_argument("--note", default="Received; our engineers are looking into it.")
    args = parser.parse_args(argv)
    if not args.amqp_url:
        parser.error("give the vendor's --amqp-url (or VENDOR_AMQP_URL), as `incidents vendors add` printed it")
    asyncio.run(_serve(args.amqp_url, args.vendor, args.reply, args.note))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
