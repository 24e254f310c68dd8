"""Faults the harness injects into the local stack: restart RabbitMQ or the docstore, poison messages; on a
private RabbitMQ cluster, stop or SIGKILL the node the services are on; SLA clocks made overdue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika

from bench.cluster import ClusterError, RabbitCluster
from bench.harness import ROOT
from services.escalation.adapters.clocks import COLLECTION as CLOCKS
from shared.documents import REVISION
from shared.messaging.failover import connect_failover
from shared.persistence import make_client
from shared.schedule import Schedule

RUN = ROOT / "var" / "run"


class FaultNotInjected(RuntimeError):
    """A fault could not be injected here (the server was not started by scripts/stack.sh); says why."""
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
RABBIT_NODE = os.environ.get("RABBITMQ_NODENAME", "incidents@localhost")


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} did not come back within {timeout}s")
        time.sleep(0.2)


def restart_rabbitmq() -> str:
    """Stop and start the RabbitMQ application of the node make up started; return what was done."""
    if not (RUN / "rabbitmq.pid").exists():
        raise FaultNotInjected("RabbitMQ was not started by scripts/stack.sh here")
    env = {**os.environ, "RABBITMQ_NODENAME": RABBIT_NODE}
    subprocess.run([RABBITMQCTL, "-n", RABBIT_NODE, "stop_app"], env=env, check=True, capture_output=True, timeout=120)
    time.sleep(1)
    subprocess.run([RABBITMQCTL, "-n", RABBIT_NODE, "start_app"], env=env, check=True, capture_output=True, timeout=120)
    _wait_port(5672)
    return "restarted (stop_app/start_app)"


def restart_docstore() -> str:
    """Stop the docstore with SIGTERM and start it again with the same command line."""
    pid_file = RUN / "docstore.pid"
    if not pid_file.exists():
        raise FaultNotInjected("the docstore was not started by scripts/stack.sh here (MONGODB_URL set?)")
    pid = int(pid_file.read_text())
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    log = open(ROOT / "var" / "log" / "docstore.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen([c.decode() for c in command], stdout=log, stderr=log, start_new_session=True)
    pid_file.write_text(str(process.pid))
    _wait_port(27017)
    return "restarted (SIGTERM, same command line)"


POISON = [
    b"{not json",
    json.dumps({"event_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "event_type": "ticket.reported", "event_version": 1,
                "occurred_at": "2026-01-05T09:00:00Z", "producer": "chaos", "correlation_id": "x",
                "ticket_id": "t", "payload": {"number": "nope"}}).encode(),
    json.dumps({"event_id": "01ARZ3NDEKTSV4RRFFQ69G5FAW", "event_type": "ticket.reported", "event_version": 99,
                "occurred_at": "2026-01-05T09:00:00Z", "producer": "chaos", "correlation_id": "x",
                "ticket_id": "t", "payload": {}}).encode(),
]


async def send_poison(amqp_url: str) -> list[bytes]:
    """Publish malformed ticket.reported messages; return their bodies."""
    connection = await connect_failover(amqp_url)  # one node, or every node of a cluster
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("incidents.events", aio_pika.ExchangeType.TOPIC, durable=True)
        for body in POISON:
            await exchange.publish(aio_pika.Message(body, message_id=f"poison-{POISON.index(body)}"),
                                   routing_key="ticket.reported")
    finally:
        await connection.close()
    return POISON


def _wait(check: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll check (errors count as not yet) every 0.2 s; raise TimeoutError naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (ClusterError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"never within {timeout:g}s: {what}")
        time.sleep(0.2)


def break_node(cluster: RabbitCluster, fault: str, processes: dict[str, int], queues: list[str],
               timeout: float = 240) -> dict[str, Any]:
    """Stop (fault "stop", rabbitmqctl stop) or SIGKILL ("kill") the node most clients are on, then start it again.

    Waits until every service process (`processes`: connection name -> processes) holds a connection on
    another node, then restarts the node and waits until every quorum queue in `queues` has all its
    members online again. Returns the node and the seconds each stage took from the fault's start.
    """
    gone = cluster.busiest_node("/")
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        stopping = pool.submit(cluster.kill_node if fault == "kill" else cluster.stop_node, gone)
        _wait(lambda: stopping.done() and stopping.exception() is not None
              or all(cluster.connections_off(gone)[name] >= n for name, n in processes.items()),
              f"every service process connected to a node but {gone}", timeout)
        moved = time.monotonic() - started
        stopping.result(timeout)
    down = time.monotonic() - started
    cluster.start_node(gone)
    back = time.monotonic() - started
    _wait(lambda: not cluster.offline_replicas("/", queues), "every queue replica online", timeout)
    return {"fault": fault, "node": gone, "services_moved_after_s": round(moved, 1),
            "node_down_after_s": round(down, 1), "node_back_after_s": round(back, 1),
            "queues_whole_after_s": round(time.monotonic() - started, 1)}


async def make_overdue(mongodb_url: str, db_name: str, ticket_ids: list[str], count: int,
                       done: set[str]) -> dict[str, str]:
    """Make the response clocks of up to `count` of these tickets (latest first, not in `done`) a minute overdue.

    Only running clocks are changed, each with a write guarded by its revision (escalation may be
    writing it too). The document is written before its due entry, unlike escalation's writers: an
    entry already due that a timer pass reads before the document is due is dropped as stale, and the
    step would then never fire. Returns ticket id -> the breach step that must now fire exactly once.
    """
    client = make_client(mongodb_url)
    try:
        db = client[db_name]
        now = datetime.now(UTC)
        late = now - timedelta(minutes=1)
        chosen: dict[str, str] = {}
        for ticket_id in reversed(ticket_ids):
            if len(chosen) >= count:
                break
            clock = await db[CLOCKS].find_one({"_id": ticket_id}) if ticket_id not in done else None
            response = (clock or {}).get("clocks", {}).get("response") or {}
            if response.get("state") != "running" or f"response.{response['gen']}.breached" in clock["fired"]:
                continue
            changed = await db[CLOCKS].update_one({"_id": ticket_id, REVISION: clock[REVISION]}, {
                "$set": {"clocks.response.anchor_at": late, "clocks.response.remaining_seconds": 0.0,
                         "clocks.response.due_at": late, "next_due_at": late}, "$inc": {REVISION: 1}})
            if changed.modified_count:
                await Schedule(db, CLOCKS).add(ticket_id, now, now)
                chosen[ticket_id] = f"response.{response['gen']}.breached"
                done.add(ticket_id)
        return chosen
    finally:
        await client.close()

