"""Faults the harness injects into the local stack: restart RabbitMQ or the docstore, poison messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import aio_pika

from bench.harness import ROOT

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
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("incidents.events", aio_pika.ExchangeType.TOPIC, durable=True)
        for body in POISON:
            await exchange.publish(aio_pika.Message(body, message_id=f"poison-{POISON.index(body)}"),
                                   routing_key="ticket.reported")
    finally:
        await connection.close()
    return POISON
