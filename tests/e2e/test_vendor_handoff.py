"""A vendor over the queue: a third-party ticket is handed off, the vendor resolves it through a reply."""

from __future__ import annotations

import asyncio
import time

import aio_pika
import pytest

from services.escalation.adapters.vendor_client import VendorClient
from shared.ids import new_id
from shared.messaging.topology import VENDOR_REPLIES
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


async def dead_lettered(amqp_url: str, timeout: float = 40) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Return the messages in the vendor replies DLQ (polling until at least one is there)."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(VENDOR_REPLIES.dead_letter_queue, durable=True,
                                            arguments={"x-queue-type": "quorum"})
        found = []
        deadline = asyncio.get_running_loop().time() + timeout
        while not found and asyncio.get_running_loop().time() < deadline:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                found.append(message)
            await asyncio.sleep(0.1)
        return found
    finally:
        await connection.close()


def actions_of(ticket: dict) -> list[str]:
    return [entry["action"] for entry in ticket["timeline"]]


def wait_for_number(api: Api, number: str, predicate, timeout: float = 60) -> dict:
    """Poll a ticket by a number intake may not have adopted yet, until predicate holds; return it."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/tickets/{number}", expect=None)
        if response.status_code == 200 and predicate(response.json()):
            return response.json()
        assert time.monotonic() < deadline, f"{number}: {response.status_code} {response.text[:2000]}"
        time.sleep(0.1)


async def test_vendor_receives_the_handoff_and_resolves_the_ticket(system, amqp_url):
    url = system.url("intake")
    ada = Api(url, system.create_key("reporter", "Ada", "ada@example.com"))
    ann = Api(url, system.create_key("agent", "Ann Agent", "ann@support.local"))
    async with VendorClient(amqp_url, "acme", queue_name=f"vendor.acme.e2e.{new_id()}") as vendor:
        created = ada.report(title="Card payments fail", type="data", component="payments-gateway",
                             description="Every card payment is declined by the gateway since 10:00.")
        handoff = await vendor.next_handoff(timeout=60)
        assert handoff.ticket_id == created["id"] and handoff.ticket.component == "payments-gateway"
        assert handoff.reply_routing_key == "vendor.acme.reply"
        number = handoff.ticket.number  # the policy issues a new number on escalation to Tier 4
        ticket = wait_for_number(ann, number, lambda t: t["tier"] == 4 and "vendor_handoff" in actions_of(t))
        [escalated] = [e for e in ticket["timeline"] if e["action"] == "escalated"]
        assert f"(was {created['number']})" in escalated["detail"] and escalated["data"]["new_number"] == number

        await vendor.publish_raw(b'{"message_type": "vendor.reply", "kind": "fixed?"}', "vendor.acme.reply")
        [bad] = await dead_lettered(amqp_url)
        assert "bad vendor reply" in bad.headers["x-dead-letter-reason"]

        await vendor.reply(handoff, "acknowledged", "We are looking into the gateway.", author="Val Vendor")
        await vendor.reply(handoff, "resolved", "Rotated the expired gateway certificate; payments flow again.")
        # both replies are applied, though not necessarily in order: a handler that loses a write race (the
        # notifier's receipts for this ticket's mails land meanwhile) is redelivered after the next one
        ticket = wait_for_number(ann, number, lambda t: t["status"] == "resolved"
                                 and actions_of(t).count("vendor_reply") == 2)

    assert ticket["resolution"]["proposed_solution"].startswith("Rotated the expired gateway certificate")
    notes = [e for e in ticket["timeline"] if e["action"] == "vendor_reply"]
    assert sorted(e["data"]["kind"] for e in notes) == ["acknowledged", "resolved"]
    [resolved] = [e for e in notes if e["data"]["kind"] == "resolved"]
    assert "Rotated the expired gateway certificate" in resolved["detail"]
    moves = [e for e in ticket["timeline"] if e["action"] == "status_changed"]
    assert moves[-1]["actor"]["type"] == "system" and moves[-1]["data"]["to_status"] == "resolved"
    actions = [e["action"] for e in ticket["timeline"]]
    assert {"escalated", "vendor_handoff"} <= set(actions)
    reporter_view = ada.ticket(number)
    assert "Rotated the expired gateway certificate" in str(reporter_view["timeline"])
