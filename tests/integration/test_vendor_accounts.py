"""Vendors' broker accounts on the real RabbitMQ: each vendor acts only as itself, on its own keys and queues."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import httpx
import pytest
from aiormq.exceptions import (
    ChannelAccessRefused,
    ChannelPreconditionFailed,
    ProbableAuthenticationError,
)

from shared.contracts.escalation_events import VendorReplyReceived
from shared.ids import new_id
from shared.messaging.accounts import (
    VendorExists,
    add_vendor,
    amqp_url_for,
    list_vendors,
    provision_services_user,
    remove_vendor,
)
from shared.messaging.identity import vhost_of
from shared.messaging.topology import EVENTS_EXCHANGE, VENDOR_EXCHANGE, VENDOR_REPLIES, declare_exchanges
from tests.broker_accounts import management_api, provisioned_vendors

pytestmark = pytest.mark.integration


@pytest.fixture
async def vendors(servers, amqp_url):
    """acme and hardware-partner, provisioned on this module's vhost."""
    async with provisioned_vendors(servers, amqp_url, "acme", "hardware-partner") as made:
        yield made


@pytest.fixture
async def internal(amqp_url):
    """A channel of the internal side (the test vhost's administrator), with a probe on vendor.acme.reply."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await declare_exchanges(channel)
    probe = await channel.declare_queue(f"probe.{new_id()}", exclusive=True)
    await probe.bind(VENDOR_EXCHANGE, routing_key="vendor.acme.reply")
    yield channel, probe
    await connection.close()


async def _connect(credentials):
    return await aio_pika.connect(credentials.amqp_url)


def _closing(connection) -> asyncio.Future:
    """Return a future that completes when the broker closes the connection."""
    closed = asyncio.get_running_loop().create_future()
    connection.close_callbacks.add(lambda *_: closed.done() or closed.set_result(True))
    return closed


async def _publish(connection, exchange_name, routing_key, body=b"{}", **properties):
    """Publish with confirms on a fresh channel; raises what the broker answered."""
    channel = await connection.channel(publisher_confirms=True)
    exchange = channel.default_exchange if exchange_name == "" else await channel.get_exchange(exchange_name)
    await exchange.publish(aio_pika.Message(body, **properties), routing_key=routing_key, timeout=10)


async def _get(queue, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if (message := await queue.get(no_ack=True, fail=False)) is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived on {queue.name} within {timeout}s")


async def test_a_vendor_reads_its_handoffs_and_replies_as_itself(vendors, internal):
    channel, probe = internal
    acme = vendors["acme"]
    vendor_exchange = await channel.get_exchange(VENDOR_EXCHANGE)
    await vendor_exchange.publish(aio_pika.Message(b'{"handoff": 1}'), routing_key="vendor.acme.handoff", timeout=10)
    connection = await _connect(acme)
    try:
        vendor_channel = await connection.channel()
        queue = await vendor_channel.get_queue(acme.queue, ensure=True)
        assert (await _get(queue)).body == b'{"handoff": 1}'
        await _publish(connection, VENDOR_EXCHANGE, "vendor.acme.reply", b'{"reply": 1}', user_id=acme.user)
    finally:
        await connection.close()
    reply = await _get(probe)
    assert reply.body == b'{"reply": 1}' and reply.user_id == acme.user


async def test_another_vendor_cannot_publish_on_the_vendors_routing_key(vendors, internal):
    _, probe = internal
    connection = await _connect(vendors["hardware-partner"])
    try:
        with pytest.raises(ChannelAccessRefused, match="vendor.acme.reply"):
            await _publish(connection, VENDOR_EXCHANGE, "vendor.acme.reply", user_id=vendors["hardware-partner"].user)
        with pytest.raises(ChannelAccessRefused, match="vendor.hardware-partner.handoff"):
            await _publish(connection, VENDOR_EXCHANGE, "vendor.hardware-partner.handoff")
    finally:
        await connection.close()
    assert await probe.get(no_ack=True, fail=False) is None


async def test_another_vendor_cannot_publish_with_the_vendors_user_id(vendors, internal):
    _, probe = internal
    connection = await _connect(vendors["hardware-partner"])
    try:
        with pytest.raises(ChannelPreconditionFailed, match="user_id property set to"):
            await _publish(connection, VENDOR_EXCHANGE, "vendor.hardware-partner.reply", user_id=vendors["acme"].user)
    finally:
        await connection.close()


async def test_the_internal_side_cannot_publish_as_a_vendor_either(vendors, internal):
    channel, _ = internal
    exchange = await channel.get_exchange(VENDOR_EXCHANGE)
    with pytest.raises(ChannelPreconditionFailed, match="user_id property set to"):
        await exchange.publish(aio_pika.Message(b"{}", user_id=vendors["acme"].user),
                               routing_key="vendor.acme.reply", timeout=10)


async def test_another_vendor_cannot_read_or_bind_to_the_vendors_handoffs(vendors):
    partner = vendors["hardware-partner"]
    connection = await _connect(partner)
    try:
        with pytest.raises(ChannelAccessRefused, match="vendor.acme.handoffs"):
            channel = await connection.channel()
            await (await channel.get_queue(vendors["acme"].queue, ensure=True)).get(fail=False)
        with pytest.raises(ChannelAccessRefused, match="vendor.acme.spy"):
            channel = await connection.channel()
            await channel.declare_queue("vendor.acme.spy", durable=True)
        for key in ("vendor.acme.handoff", "vendor.#", "#", "vendor.*.handoff"):
            channel = await connection.channel()
            own = await channel.declare_queue("vendor.hardware-partner.spy", durable=True)
            with pytest.raises(ChannelAccessRefused, match="access to topic"):
                await own.bind(VENDOR_EXCHANGE, routing_key=key)
    finally:
        await connection.close()


async def test_a_vendor_cannot_publish_internal_events_or_to_service_queues(vendors):
    partner = vendors["hardware-partner"]
    forged = {"event_id": new_id(), "event_type": VendorReplyReceived.EVENT_TYPE, "payload": {"kind": "resolved"}}
    connection = await _connect(partner)
    try:
        with pytest.raises(ChannelAccessRefused, match=EVENTS_EXCHANGE):
            await _publish(connection, EVENTS_EXCHANGE, "vendor.reply_received", json.dumps(forged).encode())
        with pytest.raises(ChannelAccessRefused, match="amq.default"):
            await _publish(connection, "", VENDOR_REPLIES.name, user_id=partner.user)
        with pytest.raises(ChannelAccessRefused, match=VENDOR_EXCHANGE):
            channel = await connection.channel()
            await channel.declare_exchange(VENDOR_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    finally:
        await connection.close()


async def test_vendor_users_have_no_management_access(servers, vendors):
    acme = vendors["acme"]
    base = servers.management_url.split("@")[-1]
    response = httpx.get(f"http://{base}/api/overview", auth=(acme.user, acme.password), timeout=10)
    assert response.status_code == 401


async def test_list_rotate_and_remove(servers, amqp_url):
    vhost = vhost_of(amqp_url)
    async with provisioned_vendors(servers, amqp_url, "acme", "hardware-partner") as made, \
            management_api(servers, amqp_url) as api:
        assert [(a.vendor_id, a.user) for a in await list_vendors(api, vhost)] == [
            ("acme", made["acme"].user), ("hardware-partner", made["hardware-partner"].user)]
        with pytest.raises(VendorExists):
            await add_vendor(api, vhost, "acme", amqp_url)

        old = await _connect(made["acme"])
        old_closed = _closing(old)
        rotated = await add_vendor(api, vhost, "acme", amqp_url, rotate=True)
        assert rotated.password != made["acme"].password
        await asyncio.wait_for(old_closed, timeout=30)  # rotation closes the connections of the old password
        with pytest.raises(ProbableAuthenticationError):
            await aio_pika.connect(made["acme"].amqp_url)
        await (await aio_pika.connect(rotated.amqp_url)).close()

        partner = await _connect(made["hardware-partner"])
        partner_closed = _closing(partner)
        assert await remove_vendor(api, vhost, "hardware-partner")
        await asyncio.wait_for(partner_closed, timeout=30)
        with pytest.raises(ProbableAuthenticationError):
            await aio_pika.connect(made["hardware-partner"].amqp_url)
        assert [a.vendor_id for a in await list_vendors(api, vhost)] == ["acme"]
        assert not await remove_vendor(api, vhost, "hardware-partner")


async def test_the_services_user_works_on_its_vhost_without_management_rights(servers, amqp_url):
    vhost = vhost_of(amqp_url)
    user, password = f"services-{new_id().lower()}", "a-password-for-this-test-only"
    async with management_api(servers, amqp_url) as api:
        try:
            await provision_services_user(api, vhost, user, password)
            connection = await aio_pika.connect(amqp_url_for(amqp_url, user, password, vhost))
            try:
                channel = await connection.channel(publisher_confirms=True)
                events, _ = await declare_exchanges(channel)
                await events.publish(aio_pika.Message(b"{}", user_id=user), routing_key="nobody.listens", timeout=10)
            finally:
                await connection.close()
            base = servers.management_url.split("@")[-1]
            assert httpx.get(f"http://{base}/api/overview", auth=(user, password), timeout=10).status_code == 401
            with pytest.raises(ValueError):
                await provision_services_user(api, vhost, "vendor.acme" if vhost == "/" else f"vendor.acme@{vhost}",
                                              password)
        finally:
            await api.delete_user(user)


async def test_a_vendor_cannot_hold_more_connections_than_its_limit(servers, amqp_url):
    vhost = vhost_of(amqp_url)
    async with management_api(servers, amqp_url) as api:
        made = await add_vendor(api, vhost, "acme", amqp_url, max_connections=2)
        opened = []
        try:
            opened = [await aio_pika.connect(made.amqp_url) for _ in range(2)]
            with pytest.raises(Exception, match="got <Connection.Close"):  # the broker closes it at once
                opened.append(await aio_pika.connect(made.amqp_url))
            assert await api.call("GET", "user-limits", made.user) == [
                {"user": made.user, "value": {"max-connections": 2, "max-channels": 100}}]
        finally:
            for connection in opened:
                await connection.close()
            await remove_vendor(api, vhost, "acme")
