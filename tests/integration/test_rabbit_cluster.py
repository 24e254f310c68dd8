"""RabbitMQ as a cluster: three nodes of Debian's server started for this module, the project's quorum
queues replicated on each, and a client that knows every node publishing with confirms and consuming
while the node it is connected to stops. Nothing confirmed is lost; the client carries on elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import aiormq
import pytest

from bench.amqp_load import ConfirmedStream
from bench.cluster import NODES, RabbitCluster
from bench.faults import break_node
from bench.system import free_port, wait_until
from shared.messaging.failover import connect_failover
from shared.messaging.topology import CONSUMER_QUEUES, declare_consumer_queue, declare_exchanges
from shared.messaging.urls import node_address
from tests.rabbit_cluster import private_cluster, whole

pytestmark = pytest.mark.integration

QUEUE = CONSUMER_QUEUES["triage"]
AFTER_FAILOVER = 300
"""Messages the client must get confirmed on its new node before the publisher stops."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[RabbitCluster]:
    """Three clustered nodes on free ports with their own data and cookie; stopped and removed afterwards."""
    yield from private_cluster(tmp_path_factory.mktemp("rabbit-cluster"))


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


@pytest.mark.parametrize("fault", ["stop-other", "stop", "kill"])
async def test_a_client_that_knows_every_node_loses_nothing_when_a_node_goes(cluster, fault):
    """Under load, node 2 stops while the client is on node 1 (stop-other), or the client's own node stops
    gracefully (stop) or has its VM SIGKILLed (kill); then the node returns. For the last two the client's
    list names a dead address right after its node, so reaching the cluster again means skipping it."""
    await asyncio.to_thread(whole, cluster)  # after an earlier failure too
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    url = cluster.amqp_url() if fault == "stop-other" else ",".join(
        [cluster.amqp_url(nodes=(1,)), dead, cluster.amqp_url(nodes=(2, 3))])
    connection = await connect_failover(url, client_properties={"connection_name": "cluster-test"})
    stream = ConfirmedStream("ticket.reported")
    on_node = cluster.node_of(connection.node)
    gone = 2 if fault == "stop-other" else on_node
    marks: dict[str, int] = {}
    try:
        publish_channel = await connection.channel(publisher_confirms=True)
        events, _ = await declare_exchanges(publish_channel)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=100)
        queue = await declare_consumer_queue(consume_channel, QUEUE, delivery_limit=5)
        await queue.purge()
        await queue.consume(stream.on_message)
        publisher = asyncio.create_task(stream.publish(
            events, until=lambda: "confirmed" in marks and len(stream.confirmed) - marks["confirmed"] >= AFTER_FAILOVER))

        await asyncio.wait_for(_until(lambda: len(stream.handled) >= 500), 120)
        await asyncio.to_thread(cluster.kill_node if fault == "kill" else cluster.stop_node, gone)
        await asyncio.wait_for(_until(lambda: connection.connected.is_set() and connection.node != dead
                                      and cluster.node_of(connection.node) != gone), 120)
        marks["confirmed"] = len(stream.confirmed)
        replicas = await asyncio.to_thread(_replicas_without, cluster, gone)

        await asyncio.wait_for(publisher, 180)
        await asyncio.wait_for(_until(stream.all_delivered), 120)
        dead_lettered = (await consume_channel.declare_queue(QUEUE.dead_letter_queue, passive=True)
                         ).declaration_result.message_count
        now_on = cluster.node_of(connection.node)
    finally:
        await connection.close()

    assert now_on != gone, "the client is on the node that went"
    if fault == "stop-other":
        assert now_on == on_node, "losing another node must not move the client"
    assert sorted(replicas["members"]) == sorted(cluster.node_name(n) for n in NODES), "a lost node stays a member"
    assert not stream.lost(), f"{len(stream.lost())} confirmed messages never arrived: {stream.lost()[:10]}"
    assert set(stream.handled) <= stream.attempted
    assert not stream.unexplained_duplicates(), f"delivered twice for no reason: {stream.unexplained_duplicates()[:10]}"
    after = stream.confirmed[marks["confirmed"]:]  # published and confirmed on the node the client moved to
    assert len(after) >= AFTER_FAILOVER and set(after) <= set(stream.handled), "consuming did not go on after the move"
    assert dead_lettered == 0, "losing a node must not dead-letter healthy messages"
    print(f"\n{fault} node {gone}: the client went from node {on_node} to node {now_on}; {len(stream.confirmed)} "
          f"confirmed ({len(stream.confirmed) - marks['confirmed']} after), {len(stream.handled)} handled once, "
          f"{stream.duplicates()} duplicate deliveries, {len(stream.republished)} publishes retried, "
          f"longest wait for a confirm {stream.longest_gap:.1f} s")

    await asyncio.to_thread(cluster.start_node, gone)
    wait_until(lambda: len(cluster.running_nodes()) == 3, "all three nodes running again", timeout=120, interval=0.5)
    wait_until(lambda: len(cluster.queue("/", QUEUE.name)["online"]) == 3,
               lambda: f"the returned node's replica online: {cluster.queue('/', QUEUE.name)}", timeout=120)


async def test_the_fault_harness_kills_the_node_its_clients_are_on_and_waits_until_they_moved_and_it_is_whole(
        cluster):
    """bench.chaos --rabbit-cluster measures a node fault with break_node: it must pick the node the named
    clients are on, return only once every one of them is connected elsewhere, and leave every replica online."""
    await asyncio.to_thread(whole, cluster)
    connections = [await connect_failover(cluster.amqp_url(), client_properties={"connection_name": "svc"})
                   for _ in range(2)]
    try:
        channel = await connections[0].channel()
        await declare_consumer_queue(channel, QUEUE, delivery_limit=5)
        on = cluster.node_of(connections[0].node)
        wait_until(lambda: cluster.connections_off(3 if on != 3 else 1)["svc"] == 2, "both clients listed", 30)
        assert cluster.connections_off(on)["svc"] == 0, "both clients start on the same node"

        figures = await asyncio.to_thread(break_node, cluster, "kill", {"svc": 2}, [QUEUE.name], 180)

        assert figures["node"] == on
        assert all(cluster.node_of(c.node) != on for c in connections)
        assert cluster.connections_off(on)["svc"] == 2
        assert cluster.offline_replicas("/", [QUEUE.name]) == {}
        assert figures["services_moved_after_s"] <= figures["node_back_after_s"] <= figures["queues_whole_after_s"]
    finally:
        for connection in connections:
            await connection.close()


def _replicas_without(cluster: RabbitCluster, gone: int) -> dict:
    """Return the queue as the management API shows it once it reports node `gone`'s replica offline."""
    def offline() -> dict | None:
        queue = cluster.queue("/", QUEUE.name)
        return queue if cluster.node_name(gone) not in queue["online"] else None
    return wait_until(offline, lambda: f"node {gone}'s replica reported offline", timeout=60, interval=0.5)


async def _until(check) -> None:
    """Return once check() is true (the caller bounds the wait)."""
    while not check():
        await asyncio.sleep(0.05)


async def test_a_client_starts_on_the_first_node_that_answers_and_names_every_failure_without_its_password(
        amqp_url):
    dead = [_at(amqp_url, free_port()).replace("@", "S3cret@", 1) for _ in range(2)]
    connection = await connect_failover(",".join([*dead, amqp_url]), timeout=5)
    try:
        assert connection.node == node_address(amqp_url)
    finally:
        await connection.close()
    with pytest.raises(ConnectionError) as refused:
        await connect_failover(",".join(dead), timeout=5)
    assert all(node_address(url) in str(refused.value) for url in dead)
    assert "S3cret" not in str(refused.value)


async def test_a_client_whose_node_is_lost_tries_each_next_node_once_until_one_answers(amqp_url):
    """The 'node' is a TCP relay to the shared broker, cut under the client; two dead addresses follow it."""
    relays: list[asyncio.StreamWriter] = []
    broker = urlsplit(amqp_url)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(broker.hostname, broker.port or 5672)
        relays.extend([writer, up_writer])
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    node = await asyncio.start_server(relay, "127.0.0.1", 0)
    node_url = _at(amqp_url, node.sockets[0].getsockname()[1])
    dead = [_at(amqp_url, free_port()) for _ in range(2)]
    moved_to: list[str] = []
    connection = await connect_failover(",".join([node_url, *dead, amqp_url]), reconnect_interval=0.1)
    connection.close_callbacks.add(lambda *_: moved_to.append(connection.node))  # after each move
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        node.close()
        for writer in relays:
            writer.close()
        await asyncio.wait_for(_until(lambda: connection.connected.is_set()
                                      and connection.node == node_address(amqp_url)), 30)
        await _eventually_declared(queue)  # the channel and its queue are restored on the node that answered
    finally:
        await connection.close()
    assert moved_to[:3] == [*map(node_address, dead), node_address(amqp_url)], f"each next node once, in order: {moved_to}"


async def _eventually_declared(queue, seconds: float = 30) -> None:
    """Declare queue again once its channel is restored (the connection is up a moment before its channels)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            await queue.declare()
            return
        except aiormq.exceptions.ChannelInvalidStateError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


def _at(amqp_url: str, port: int) -> str:
    """Return amqp_url on another port of 127.0.0.1 (a relay, or an address where nothing listens)."""
    parts = urlsplit(amqp_url)
    return urlunsplit((parts.scheme, f"{parts.username}:{parts.password}@127.0.0.1:{port}", parts.path, "", ""))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
