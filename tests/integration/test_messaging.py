"""Consumers against a real RabbitMQ and MongoDB-protocol server."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest
from prometheus_client import CollectorRegistry

from shared.messaging.consumer import Consumer
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import AmqpPublisher
from shared.messaging.topology import QueueSpec, declare_consumer_queue
from shared.metrics import pipeline_metrics
from tests.factories import envelope_for, reported, triaged

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus(amqp_url, db, db_name):
    """A connection, publisher and relay, plus a probe queue on ticket.triaged."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    metrics = pipeline_metrics(CollectorRegistry())
    publisher = await AmqpPublisher.create(channel)
    spec = QueueSpec(f"test.{db_name}", ("ticket.reported",))
    probe = QueueSpec(f"probe.{db_name}", ("ticket.triaged",))
    probe_queue = await declare_consumer_queue(channel, probe, delivery_limit=3)
    relay = OutboxRelay([db["inbox"]], publisher, metrics, poll_seconds=0.1)
    yield {"connection": connection, "channel": channel, "publisher": publisher, "relay": relay,
           "metrics": metrics, "spec": spec, "probe": probe_queue, "db": db}
    await connection.close()


async def _start(bus, handler, delivery_limit=3):
    consumer = Consumer(name="test", spec=bus["spec"], handlers={"ticket.reported": handler},
                        inbox=bus["db"]["inbox"], relay=bus["relay"], metrics=bus["metrics"],
                        delivery_limit=delivery_limit, retry_delay_seconds=0.01)
    channel = await bus["connection"].channel(publisher_confirms=True)
    await consumer.start(channel, prefetch=10)
    return consumer


async def _get(queue, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing arrived on {queue.name} within {timeout}s")


async def _dlq(bus):
    return await bus["channel"].get_queue(bus["spec"].dead_letter_queue)


async def test_redelivered_event_is_handled_and_published_once(bus):
    calls = []

    async def handler(envelope, payload):
        calls.append(envelope.event_id)
        return [envelope_for(triaged(ticket_id=payload.ticket_id, title=payload.title))]

    await _start(bus, handler)
    first = reported(title="first")
    envelope = envelope_for(first)
    await bus["publisher"].publish(envelope)
    await bus["publisher"].publish(envelope)  # a producer retry or broker redelivery
    # same ticket, so handled strictly after the duplicate: when it arrives, the duplicate is done
    later = envelope_for(reported(ticket_id=first.ticket_id, title="later"))
    await bus["publisher"].publish(later)
    titles = [json.loads((await _get(bus["probe"])).body)["payload"]["title"] for _ in range(2)]
    assert titles == ["first", "later"]
    assert calls == [envelope.event_id, later.event_id]
    assert await bus["probe"].get(fail=False) is None
    record = await bus["db"]["inbox"].find_one({"_id": envelope.event_id})
    assert record["outbox"] == []


async def test_malformed_message_goes_to_the_dlq_with_its_reason(bus):
    async def handler(envelope, payload):
        raise AssertionError("must not be called")

    await _start(bus, handler)
    exchange = await bus["channel"].get_exchange("incidents.events")
    await exchange.publish(aio_pika.Message(b"{not json"), routing_key="ticket.reported")
    dead = await _get(await _dlq(bus))
    assert dead.body == b"{not json"
    assert dead.headers["x-dead-letter-reason"].startswith("body is not JSON")
    assert dead.headers["x-original-routing-key"] == "ticket.reported"


async def test_invalid_payload_is_dead_lettered_naming_the_field(bus):
    await _start(bus, lambda e, p: None)
    raw = json.loads(envelope_for(reported()).to_bytes())
    raw["payload"]["number"] = "nope"
    exchange = await bus["channel"].get_exchange("incidents.events")
    await exchange.publish(aio_pika.Message(json.dumps(raw).encode()), routing_key="ticket.reported")
    dead = await _get(await _dlq(bus))
    assert "payload for ticket.reported v1: number" in dead.headers["x-dead-letter-reason"]


async def test_handler_that_keeps_failing_is_dead_lettered_after_the_delivery_limit(bus):
    attempts = []

    async def handler(envelope, payload):
        attempts.append(1)
        raise RuntimeError("database exploded")

    await _start(bus, handler, delivery_limit=3)
    await bus["publisher"].publish(envelope_for(reported()))
    dead = await _get(await _dlq(bus), timeout=20)
    assert len(attempts) == 3
    assert "handler failed 3 times" in dead.headers["x-dead-letter-reason"]
    assert "database exploded" in dead.headers["x-dead-letter-reason"]


async def test_transient_failure_is_retried_then_succeeds(bus):
    attempts = []

    async def handler(envelope, payload):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("blip")
        return [envelope_for(triaged(ticket_id=payload.ticket_id))]

    await _start(bus, handler)
    await bus["publisher"].publish(envelope_for(reported()))
    await _get(bus["probe"])
    assert len(attempts) == 2


async def test_relay_publishes_events_left_in_an_outbox_by_a_crash(bus):
    envelope = envelope_for(triaged())
    await bus["db"]["inbox"].insert_one({"_id": "crashed-before-publish", "outbox": [envelope.to_document()]})
    task = asyncio.create_task(bus["relay"].run())
    try:
        message = await _get(bus["probe"])
        for _ in range(200):  # the relay pops after the broker confirmed, so the message can arrive first
            if (await bus["db"]["inbox"].find_one({"_id": "crashed-before-publish"}))["outbox"] == []:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert message.message_id == envelope.event_id
    assert (await bus["db"]["inbox"].find_one({"_id": "crashed-before-publish"}))["outbox"] == []
