"""A vendor over the queue: a third-party ticket is handed off, the vendor resolves it through a reply.

The vendors are real broker accounts (`incidents vendors add`); a reply that anyone else forges is
refused by the broker or dead-lettered by escalation, and changes nothing.
"""

from __future__ import annotations

import asyncio
import time

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

from services.escalation.adapters.vendor_client import VendorClient
from shared.contracts.escalation_events import VendorHandoff, VendorReply
from shared.ids import new_id
from shared.messaging.topology import VENDOR_EXCHANGE, VENDOR_REPLIES
from tests.broker_accounts import provisioned_vendors
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def vendors(servers, amqp_url):
    """The policy's vendors (acme, hardware-partner) with broker accounts on this module's vhost."""
    async with provisioned_vendors(servers, amqp_url, "acme", "hardware-partner") as made:
        yield made


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


async def test_vendor_receives_the_handoff_and_resolves_the_ticket(system, amqp_url, vendors):
    url = system.url("intake")
    ada = Api(url, system.create_key("reporter", "Ada", "ada@example.com"))
    ann = Api(url, system.create_key("agent", "Ann Agent", "ann@support.local"))
    async with VendorClient(vendors["acme"].amqp_url, "acme", queue_name=f"vendor.acme.e2e.{new_id()}") as vendor:
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


def forged_reply(handoff: VendorHandoff, kind: str = "resolved") -> bytes:
    """Return a well-formed reply to the hand-off, as the vendor would word it."""
    return VendorReply(reply_id=new_id(), handoff_id=handoff.handoff_id, vendor_id=handoff.vendor_id,
                       ticket_id=handoff.ticket_id, kind=kind, note="Nothing to see here; closing.",
                       sent_at=handoff.sent_at).model_dump_json().encode()


async def publish(amqp_url: str, body: bytes, routing_key: str, **properties) -> None:
    """Publish on the vendor exchange as whoever amqp_url logs in as, with confirms (raises the broker's refusal)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(VENDOR_EXCHANGE, ensure=True)
        await exchange.publish(aio_pika.Message(body, content_type="application/json", **properties),
                               routing_key=routing_key, timeout=10)
    finally:
        await connection.close()


async def test_a_forged_vendor_reply_changes_nothing_and_is_dead_lettered(system, amqp_url, vendors):
    url = system.url("intake")
    ada = Api(url, system.create_key("reporter", "Ada", "ada@example.com"))
    ann = Api(url, system.create_key("agent", "Ann Agent", "ann@support.local"))
    acme, partner = vendors["acme"], vendors["hardware-partner"]
    async with VendorClient(acme.amqp_url, "acme") as vendor:  # the queue `incidents vendors add` made
        created = ada.report(title="Card payments fail again", type="data", component="payments-gateway",
                             description="Every card payment is declined by the gateway since 11:00.")
        handoff = await vendor.next_handoff(timeout=60)
        while handoff.ticket_id != created["id"]:  # the queue also holds the hand-offs of earlier tests
            handoff = await vendor.next_handoff(timeout=60)
        number = handoff.ticket.number
        wait_for_number(ann, number, lambda t: "vendor_handoff" in actions_of(t))

        # the internal side (no user_id) and another vendor (its own key and user, acme's name in the body)
        await publish(amqp_url, forged_reply(handoff), "vendor.acme.reply")
        await publish(partner.amqp_url, forged_reply(handoff), "vendor.hardware-partner.reply", user_id=partner.user)
        # the broker itself refuses acme's user_id from anyone else, and acme's routing key from another vendor
        with pytest.raises(ChannelPreconditionFailed):
            await publish(amqp_url, forged_reply(handoff), "vendor.acme.reply", user_id=acme.user)
        with pytest.raises(ChannelAccessRefused):
            await publish(partner.amqp_url, forged_reply(handoff), "vendor.acme.reply", user_id=partner.user)

        dead = []
        for _ in range(2):
            if len(dead) < 2:
                dead += await dead_lettered(amqp_url)
        reasons = sorted(message.headers["x-dead-letter-reason"] for message in dead)
        assert len(reasons) == 2, reasons
        assert reasons[0].startswith("message for vendor acme has no user_id"), reasons
        assert reasons[1] == "reply of vendor acme arrived on vendor.hardware-partner.reply", reasons
        assert [m.headers["x-original-user-id"] for m in sorted(dead, key=lambda m: m.headers["x-dead-letter-reason"])
                ] == ["", partner.user]

        await vendor.reply(handoff, "update", "Still looking; the gateway's certificate expired.")
        ticket = wait_for_number(ann, number, lambda t: actions_of(t).count("vendor_reply") == 1)
        # the forgeries (dead-lettered before the real reply was sent) changed nothing
        assert ticket["status"] != "resolved" and (ticket.get("resolution") or {}).get("proposed_solution") is None
        [note] = [e for e in ticket["timeline"] if e["action"] == "vendor_reply"]
        assert note["data"]["kind"] == "update" and "certificate expired" in note["detail"]
