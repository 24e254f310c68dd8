"""What a three-node RabbitMQ cluster costs and buys: confirmed throughput on one node and on the cluster,
and what losing a node under load costs (messages lost, time without confirms).

    .venv/bin/python -m bench.rabbit_cluster [--messages 5000] [--faults stop,kill]

One node is the shared broker of scripts/stack.sh (a fresh vhost, removed afterwards); the cluster is
a private one on free ports (bench.cluster), removed afterwards. Each figure is one quorum queue fed
by publishes with confirms (64 in flight, 512-byte persistent bodies) and drained by one consumer on
the same connection. The machine's load is printed with the figures: they are only comparable on an
idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.amqp_load import ConfirmedStream, round_trip
from bench.cluster import NODES, RabbitCluster
from bench.harness import save, vhost
from shared.messaging.failover import FailoverConnection, connect_failover
from shared.messaging.topology import QueueSpec, declare_consumer_queue, declare_exchanges

QUEUE = QueueSpec("bench.cluster", ("bench.cluster",))
AFTER_FAULT = 1000
"""Messages confirmed after the client moved before a fault run ends."""


async def _queue(connection: FailoverConnection) -> tuple[Any, Any, Any]:
    """Return (confirming publish channel's events exchange, consume channel, the emptied bench queue)."""
    publish_channel = await connection.channel(publisher_confirms=True)
    events, _ = await declare_exchanges(publish_channel)
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=200)
    queue = await declare_consumer_queue(consume_channel, QUEUE, delivery_limit=5)
    await queue.purge()
    return events, consume_channel, queue


async def throughput(amqp_url: str, messages: int) -> dict[str, Any]:
    """Return confirmed publish+consume figures of one quorum queue reached through amqp_url."""
    connection = await connect_failover(amqp_url, client_properties={"connection_name": "bench-cluster"})
    try:
        events, channel, queue = await _queue(connection)
        await round_trip(events, queue, QUEUE.routing_keys[0], min(500, messages))  # warm-up
        seconds = await round_trip(events, queue, QUEUE.routing_keys[0], messages)
        await queue.delete(if_unused=False, if_empty=False)
        await channel.queue_delete(QUEUE.dead_letter_queue)
    finally:
        await connection.close()
    return {"messages": messages, "seconds": round(seconds, 2), "per_second": round(messages / seconds)}


async def node_loss(cluster: RabbitCluster, fault: str) -> dict[str, Any]:
    """Stop (or SIGKILL) the node the client is on under a steady confirmed stream; return what it cost."""
    connection = await connect_failover(cluster.amqp_url(), client_properties={"connection_name": "bench-cluster"})
    stream = ConfirmedStream(QUEUE.routing_keys[0], pause=0.001)
    mark: list[int] = []
    try:
        events, channel, queue = await _queue(connection)
        await queue.consume(stream.on_message)
        publisher = asyncio.create_task(stream.publish(
            events, until=lambda: bool(mark) and len(stream.confirmed) - mark[0] >= AFTER_FAULT))
        await _until(lambda: len(stream.handled) >= 1000, 120)
        gone = cluster.node_of(connection.node)
        started = time.monotonic()
        stopping = asyncio.create_task(asyncio.to_thread(cluster.kill_node if fault == "kill" else cluster.stop_node,
                                                         gone))
        await _until(lambda: connection.connected.is_set() and cluster.node_of(connection.node) != gone, 120)
        reconnected = time.monotonic() - started
        await stopping
        stopped = time.monotonic() - started
        mark.append(len(stream.confirmed))
        await asyncio.wait_for(publisher, 300)
        await _until(stream.all_delivered, 120)
        now_on = cluster.node_of(connection.node)
        await queue.delete(if_unused=False, if_empty=False)
        await channel.queue_delete(QUEUE.dead_letter_queue)
    finally:
        await connection.close()
    await asyncio.to_thread(cluster.start_node, gone)
    return {"fault": fault, "node": gone, "moved_to": now_on, "confirmed": len(stream.confirmed),
            "lost": len(stream.lost()), "duplicate_deliveries": stream.duplicates(),
            "publishes_retried": len(stream.republished), "node_stop_seconds": round(stopped, 1),
            "reconnected_after_seconds": round(reconnected, 1),
            "longest_wait_for_a_confirm_seconds": round(stream.longest_gap, 1)}


async def _until(check, timeout: float) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


async def main(messages: int, faults: list[str]) -> dict[str, Any]:
    """Run the figures; print them as they come; return them all."""
    result: dict[str, Any] = {"load_before": _load()}
    print(f"machine: {result['load_before']}; {messages} messages per throughput figure")
    with vhost() as url:
        result["one_node"] = await throughput(url, messages)
    print(f"one node (shared broker):   {result['one_node']['per_second']:>6} confirmed msg/s published and consumed")
    with tempfile.TemporaryDirectory(prefix="rabbit-cluster-") as directory:
        cluster = RabbitCluster.private(Path(directory))
        started = time.monotonic()
        try:
            cluster.up()
            result["cluster_start_seconds"] = round(time.monotonic() - started, 1)
            print(f"cluster of three started in {result['cluster_start_seconds']} s")
            result["three_nodes"] = await throughput(cluster.amqp_url(), messages)
            print(f"three-node cluster:         {result['three_nodes']['per_second']:>6} confirmed msg/s "
                  f"(queue replicated on {len(NODES)} nodes)")
            result["node_loss"] = []
            for fault in faults:
                loss = await node_loss(cluster, fault)
                result["node_loss"].append(loss)
                print(f"{fault} the client's node {loss['node']}: lost {loss['lost']} of {loss['confirmed']} confirmed, "
                      f"client on node {loss['moved_to']} {loss['reconnected_after_seconds']} s after the fault began "
                      f"(the stop command took {loss['node_stop_seconds']} s), longest wait for a confirm "
                      f"{loss['longest_wait_for_a_confirm_seconds']} s, {loss['duplicate_deliveries']} duplicate "
                      f"deliveries, {loss['publishes_retried']} publishes retried")
        finally:
            cluster.clean()
    result["load_after"] = _load()
    print(f"machine after: {result['load_after']}")
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per throughput figure")
    parser.add_argument("--faults", default="stop,kill", help="comma-separated: stop, kill")
    args = parser.parse_args()
    faults = [fault for fault in args.faults.split(",") if fault]
    if args.messages < 1 or any(fault not in ("stop", "kill") for fault in faults):
        parser.error("--messages must be positive and --faults a list of stop and kill")
    logging.basicConfig(level=logging.WARNING, format="  %(name)s: %(message)s")
    for noisy in ("aiormq", "aio_pika"):  # a lost node's tracebacks; shared.messaging.failover says where it went
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    result = asyncio.run(main(args.messages, faults))
    print(f"saved {save('rabbit-cluster', result)}")


if __name__ == "__main__":
    cli()
