"""Bodies that cannot be decoded, on every service queue: each is dead-lettered with its reason, and the
services go on consuming (before the fix, `[` x 1,000 raised RecursionError outside the error path, so
the message stayed unacked and 100 of them, the prefetch, stopped a consumer).
"""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from services.escalation.adapters.vendor_client import VendorClient
from shared.contracts.json_body import MAX_BODY_BYTES
from shared.messaging.topology import CONSUMER_QUEUES, VENDOR_REPLIES
from tests.broker_accounts import provisioned_vendors
from tests.e2e.api import Api
from tests.e2e.test_vendor_handoff import actions_of, wait_for_number

pytestmark = pytest.mark.e2e

POISON = {
    "deep arrays": (b"[" * 1000, "nested deeper than 32 levels"),
    "deep objects": (b'{"a":' * 1000, "nested deeper than 32 levels"),
    "not UTF-8": (b"\xff\xfe{}", "body is not UTF-8"),
    "UTF-16": ('{"event_id": "x"}'.encode("utf-16"), "body is not UTF-8"),
    "not JSON": (b"{not json", "body is not JSON"),
    "not an object": (b"[1, 2, 3]", "not a JSON object but a JSON array"),
    "5,000-digit number": (b'{"a": ' + b"9" * 5000 + b"}", "body is not JSON: Exceeds the limit"),
    "NaN": (b'{"a": NaN}', "body holds NaN"),
    "lone surrogate": (b'{"a": "\\ud800"}', "lone surrogate"),
    "huge": (b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}', f"the limit is {MAX_BODY_BYTES}"),
}
FLOOD = 150
"""More deep bodies per queue than the services' prefetch (100)."""


@pytest.fixture(scope="module")
async def vendors(servers, amqp_url):
    async with provisioned_vendors(servers, amqp_url, "acme") as made:
        yield made


async def _drain(channel, queue_name: str, count: int, timeout: float = 120) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Return `count` messages from a queue, polling until they are all there."""
    queue = await channel.get_queue(queue_name)
    found = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < count:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            found.append(message)
            continue
        assert asyncio.get_running_loop().time() < deadline, f"{queue_name}: {len(found)} of {count} messages"
        await asyncio.sleep(0.2)
    return found


async def test_undecodable_messages_on_every_queue_are_dead_lettered_and_consuming_goes_on(
        system, amqp_url, vendors, mailbox):
    box, _ = mailbox
    acme = vendors["acme"]
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        for spec in CONSUMER_QUEUES.values():  # straight into each service's queue
            for name, (body, _) in POISON.items():
                await channel.default_exchange.publish(aio_pika.Message(body, headers={"x-poison": name}),
                                                       routing_key=spec.name, timeout=10)
            for _ in range(FLOOD):
                await channel.default_exchange.publish(aio_pika.Message(b"[" * 1000, headers={"x-poison": "flood"}),
                                                       routing_key=spec.name, timeout=10)
        async with VendorClient(acme.amqp_url, "acme") as vendor:  # the vendor proves itself, its body does not
            for name, (body, _) in POISON.items():
                await vendor.publish_raw(body, "vendor.acme.reply", message_id=name)
            for _ in range(FLOOD):
                await vendor.publish_raw(b"[" * 1000, "vendor.acme.reply", message_id="flood")

        queues = [spec.name for spec in CONSUMER_QUEUES.values()] + [VENDOR_REPLIES.name]
        for queue in queues:
            dead = await _drain(channel, f"{queue}.dlq", len(POISON) + FLOOD)
            for message in dead:
                name = (message.headers or {}).get("x-poison") or message.message_id
                reason = message.headers["x-dead-letter-reason"]
                expected = POISON[name][1] if name in POISON else "nested deeper than 32 levels"
                assert expected in reason, (queue, name, reason)
                assert message.headers["x-consumer"] in (queue, queue.split(".")[0])
            assert {(m.headers or {}).get("x-poison") or m.message_id for m in dead} == {*POISON, "flood"}
    finally:
        await connection.close()

    # every consumer goes on: a third-party ticket is triaged, clocked, handed to acme, resolved by its
    # reply and acknowledged by e-mail
    url = system.url("intake")
    ada = Api(url, system.create_key("reporter", "Ada", "ada@example.com"))
    ann = Api(url, system.create_key("agent", "Ann Agent", "ann@support.local"))
    created = ada.report(title="Card payments fail after the poison", type="data", component="payments-gateway",
                         description="Every card payment is declined by the gateway since 12:00.")
    async with VendorClient(acme.amqp_url, "acme") as vendor:
        handoff = await vendor.next_handoff(timeout=60)
        assert handoff.ticket_id == created["id"]
        await vendor.reply(handoff, "resolved", "Renewed the gateway certificate.")
    ticket = wait_for_number(ann, handoff.ticket.number, lambda t: t["status"] == "resolved"
                             and "vendor_reply" in actions_of(t) and t["sla"] is not None)
    assert ticket["resolution"]["proposed_solution"] == "Renewed the gateway certificate."
    box.wait_for(lambda m: created["number"] in (m["Subject"] or "") or handoff.ticket.number in (m["Subject"] or ""))
