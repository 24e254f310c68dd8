"""RabbitMQ as a cluster: three nodes of Debian's server started for this module, the project's quorum
queues replicated on each, and a client that knows every node publishing with confirms and consuming
while the node it is connected to stops. Nothing confirmed is lost; the client carries on elsewhere."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError

from bench.harness import IN_CI
from bench.rabbit_cluster import NODES, ClusterError, RabbitCluster
from bench.system import wait_until
from shared.messaging.failover import FailoverConnection, connect_failover
from shared.messaging.topology import CONSUMER_QUEUES, declare_consumer_queue, declare_exchanges

pytestmark = pytest.mark.integration

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
QUEUE = CONSUMER_QUEUES["triage"]
AFTER_FAILOVER = 300
"""Messages the client must get confirmed on its new node before the publisher stops."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[RabbitCluster]:
    """Three clustered nodes on free ports with their own data and cookie; stopped and removed afterwards."""
    if not RABBITMQ_SERVER.exists():
        why = "Debian's rabbitmq-server is not installed (scripts/stack.sh infra installs it)"
        if IN_CI:
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(why)
    cluster = RabbitCluster.private(tmp_path_factory.mktemp("rabbit-cluster"))
    try:
        cluster.up()
    except ClusterError as exc:
        try:
            cluster.clean()
        finally:
            pytest.fail(f"the three-node cluster did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.clean()


async def test_the_project_topology_gets_a_replica_of_every_queue_on_every_node(cluster):
    connection = await connect_failover(cluster.amqp_url())
    try:
        channel = await connection.channel()
        for spec in CONSUMER_QUEUES.values():
            await declare_consumer_queue(channel, spec, delivery_limit=5)
    finally:
        await connection.close()
    every_node = sorted(cluster.node_name(n) for n in NODES)
    for spec in CONSUMER_QUEUES.values():
        for name in (spec.name, spec.dead_letter_queue):
            queue = cluster.queue("/", name)
            assert queue["type"] == "quorum", name
            assert sorted(queue["members"]) == every_node, name


class Load:
    """Publishes with confirms and consumes through one FailoverConnection; records what happened to each id."""

    def __init__(self, connection: FailoverConnection) -> None:
        self.connection = connection
        self.confirmed: list[str] = []
        self.attempted: set[str] = set()
        self.republished: set[str] = set()
        """Ids whose publish raised and was sent again (the outbox relay does the same): a copy may exist twice."""
        self.deliveries: dict[str, list[bool]] = defaultdict(list)
        """id -> the redelivered flag of each delivery."""
        self.handled: list[str] = []
        """Ids in the order they were first handled (handled once per id, as the services' inbox does)."""
        self.failed_over = asyncio.Event()
        self.confirmed_at_failover = 0
        self.handled_at_failover = 0

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        message_id = message.message_id or ""
        self.deliveries[message_id].append(bool(message.redelivered))
        if len(self.deliveries[message_id]) == 1:
            self.handled.append(message_id)
        await message.ack()

    async def publish(self, exchange: aio_pika.abc.AbstractExchange) -> None:
        """Publish until AFTER_FAILOVER messages were confirmed after the failover; retry each until confirmed."""
        number = 0
        while not (self.failed_over.is_set() and len(self.confirmed) - self.confirmed_at_failover >= AFTER_FAILOVER):
            message_id = f"m-{number:06d}"
            number += 1
            self.attempted.add(message_id)
            while True:
                try:
                    await exchange.publish(aio_pika.Message(message_id.encode(), message_id=message_id,
                                                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                           routing_key="ticket.reported", timeout=10)
                    self.confirmed.append(message_id)
                    break
                except (*CONNECTION_EXCEPTIONS, DeliveryError, asyncio.TimeoutError):
                    self.republished.add(message_id)
                    await asyncio.sleep(0.1)
            await asyncio.sleep(0.002)  # a steady stream, not a burst that ends before the node stops


@pytest.mark.parametrize("fault", ["stop", "kill"])
async def test_a_client_that_knows_every_node_loses_nothing_when_its_node_goes(cluster, fault):
    """The node the client is on stops gracefully (stop) or its VM is SIGKILLed (kill) under load, then returns."""
    connection = await connect_failover(cluster.amqp_url(), client_properties={"connection_name": "cluster-test"})
    load = Load(connection)
    try:
        publish_channel = await connection.channel(publisher_confirms=True)
        events, _ = await declare_exchanges(publish_channel)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=100)
        queue = await declare_consumer_queue(consume_channel, QUEUE, delivery_limit=5)
        await queue.purge()
        await queue.consume(load.on_message)
        publisher = asyncio.create_task(load.publish(events))

        await asyncio.wait_for(_until(lambda: len(load.handled) >= 500), 120)
        gone = cluster.node_of(connection.node)
        await asyncio.to_thread(cluster.stop_node if fault == "stop" else cluster.kill_node, gone)
        await asyncio.wait_for(_until(lambda: connection.connected.is_set() and cluster.node_of(connection.node) != gone),
                               120)
        load.confirmed_at_failover, load.handled_at_failover = len(load.confirmed), len(load.handled)
        load.failed_over.set()
        replicas = cluster.queue("/", QUEUE.name)

        await asyncio.wait_for(publisher, 180)
        await asyncio.wait_for(_until(lambda: set(load.confirmed) <= set(load.handled)), 120)
        dead_lettered = (await consume_channel.declare_queue(QUEUE.dead_letter_queue, passive=True)
                         ).declaration_result.message_count
        now_on = cluster.node_of(connection.node)
    finally:
        await connection.close()

    assert now_on != gone, "the client did not leave the lost node"
    assert sorted(replicas["members"]) == sorted(cluster.node_name(n) for n in NODES)
    assert cluster.node_name(gone) not in replicas["online"]
    lost = [m for m in load.confirmed if m not in set(load.handled)]
    assert not lost, f"{len(lost)} confirmed messages never arrived: {lost[:10]}"
    assert set(load.handled) <= load.attempted
    unexplained = [m for m, flags in load.deliveries.items()
                   if len(flags) > 1 and not any(flags[1:]) and m not in load.republished]
    assert not unexplained, f"delivered twice though neither redelivered nor republished: {unexplained[:10]}"
    assert len(load.handled) - load.handled_at_failover >= AFTER_FAILOVER, "consuming did not continue on the new node"
    assert dead_lettered == 0, "losing a node must not dead-letter healthy messages"
    print(f"\n{fault} node {gone}: the client moved to node {now_on}; {len(load.confirmed)} confirmed "
          f"({len(load.confirmed) - load.confirmed_at_failover} after the move), {len(load.handled)} handled once, "
          f"{sum(len(f) for f in load.deliveries.values()) - len(load.deliveries)} duplicate deliveries, "
          f"{len(load.republished)} publishes retried")

    await asyncio.to_thread(cluster.start_node, gone)
    wait_until(lambda: len(cluster.running_nodes()) == 3, "all three nodes running again", timeout=120, interval=0.5)
    wait_until(lambda: len(cluster.queue("/", QUEUE.name)["online"]) == 3,
               lambda: f"the returned node's replica online: {cluster.queue('/', QUEUE.name)}", timeout=120)


async def _until(check) -> None:
    """Return once check() is true (the caller bounds the wait)."""
    while not check():
        await asyncio.sleep(0.05)
