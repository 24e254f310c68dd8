"""A consumer with a Combiner, against a real RabbitMQ: events of one ticket that queued up behind the one being
handled are handled together, in order, and acked; if that fails, each is handled on its own."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from prometheus_client import CollectorRegistry

from shared.messaging.consumer import Consumer
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import AmqpPublisher
from shared.messaging.topology import QueueSpec
from shared.metrics import pipeline_metrics
from tests.factories import clock_changed, envelope_for, reported, triaged

pytestmark = pytest.mark.integration
TYPES = ("ticket.triaged", "sla.clock_changed", "ticket.reported")


class Recorder:
    """Handlers and a combiner that record what they were given; the first triage waits to be released."""

    def __init__(self, *, combining_fails: bool = False) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.release = asyncio.Event()
        self.combining_fails = combining_fails

    async def handle(self, envelope, payload):
        if envelope.event_type == "ticket.triaged":
            await self.release.wait()
        self.calls.append(("alone", envelope.event_id))
        return []

    def accepts(self, envelope) -> bool:
        return envelope.event_type == "sla.clock_changed"

    async def apply(self, events) -> None:
        if self.combining_fails:
            raise RuntimeError("cannot combine")
        self.calls.append(("together", *(envelope.event_id for envelope, _ in events)))


@pytest.fixture
async def broker(amqp_url, db, db_name):
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    publisher = await AmqpPublisher.create(channel)
    metrics = pipeline_metrics(CollectorRegistry())
    yield {"connection": connection, "channel": channel, "publisher": publisher, "metrics": metrics,
           "spec": QueueSpec(f"test.{db_name}", TYPES), "relay": OutboxRelay([db["inbox"]], publisher, metrics)}
    await connection.close()


async def consume(broker, recorder: Recorder) -> aio_pika.abc.AbstractChannel:
    consumer = Consumer(name="test", spec=broker["spec"], handlers=dict.fromkeys(TYPES, recorder.handle), inbox=None,
                        relay=broker["relay"], metrics=broker["metrics"], delivery_limit=3, combiner=recorder)
    channel = await broker["connection"].channel(publisher_confirms=True)
    await consumer.start(channel, prefetch=10)
    return channel


async def until(check, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


async def left_in_queue(broker, channel) -> int:
    """Close the consumer's channel (what it did not ack goes back to the queue) and count what is there."""
    await channel.close()
    queue = await broker["channel"].declare_queue(broker["spec"].name, passive=True)
    return queue.declaration_result.message_count


async def publish_queued_events(broker, recorder: Recorder) -> dict[str, str]:
    """Publish a triage (which waits), then two clock changes, a report and a clock change of its ticket, then one
    clock change of another ticket; return their event ids by name once all have been delivered."""
    ticket = triaged()
    events = {"triaged": envelope_for(ticket),
              "clock 1": envelope_for(clock_changed(ticket_id=ticket.ticket_id)),
              "clock 2": envelope_for(clock_changed(ticket_id=ticket.ticket_id, target="resolution")),
              "reported": envelope_for(reported(ticket_id=ticket.ticket_id)),
              "clock 3": envelope_for(clock_changed(ticket_id=ticket.ticket_id, change="paused")),
              "other ticket": envelope_for(clock_changed())}
    for envelope in events.values():
        await broker["publisher"].publish(envelope)
    other = events["other ticket"].event_id
    await until(lambda: ("alone", other) in recorder.calls, "another ticket's event is handled at once")
    return {name: envelope.event_id for name, envelope in events.items()}


async def test_one_tickets_queued_events_are_handled_together_in_order_and_acked(broker):
    recorder = Recorder()
    channel = await consume(broker, recorder)
    ids = await publish_queued_events(broker, recorder)
    recorder.release.set()
    await until(lambda: len(recorder.calls) == 5, "every event handled")
    assert recorder.calls == [("alone", ids["other ticket"]), ("alone", ids["triaged"]),
                              ("together", ids["clock 1"], ids["clock 2"]),  # a report is not combined, and what
                              ("alone", ids["reported"]), ("alone", ids["clock 3"])]  # came after it waits for it
    assert broker["metrics"].combined_messages.labels("test")._value.get() == 2
    assert await left_in_queue(broker, channel) == 0, "every message acked"


async def test_if_combining_fails_each_is_handled_on_its_own_in_order(broker):
    recorder = Recorder(combining_fails=True)
    channel = await consume(broker, recorder)
    ids = await publish_queued_events(broker, recorder)
    recorder.release.set()
    await until(lambda: len(recorder.calls) == 6, "every event handled")
    assert [call[1] for call in recorder.calls] == [ids[name] for name in (
        "other ticket", "triaged", "clock 1", "clock 2", "reported", "clock 3")]
    assert all(call[0] == "alone" for call in recorder.calls)
    assert await left_in_queue(broker, channel) == 0, "every message acked"
