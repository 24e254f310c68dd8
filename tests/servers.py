"""Finds the real servers tests need: env URLs first, then testcontainers, then the local stack."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MONGO = "mongodb://127.0.0.1:27017/"


@dataclass(frozen=True)
class Servers:
    """Where the test RabbitMQ and MongoDB-protocol server are, and how they were found."""

    amqp_url: str
    mongodb_url: str
    management_url: str
    origin: str
    real_mongodb: bool


def reachable(url: str, default_port: int) -> bool:
    """Return True if a TCP connection to the URL's host and port succeeds."""
    parts = urlsplit(url)
    host = (parts.hostname or "127.0.0.1").split(",")[0]
    try:
        with socket.create_connection((host, parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


def _from_env_or_defaults() -> Servers | None:
    amqp = os.environ.get("AMQP_URL", DEFAULT_AMQP)
    mongo = os.environ.get("MONGODB_URL", DEFAULT_MONGO)
    if reachable(amqp, 5672) and reachable(mongo, 27017):
        origin = "env" if "AMQP_URL" in os.environ else "local"
        return Servers(amqp, mongo, _management_for(amqp), origin, _is_real_mongodb(mongo))
    return None


def _management_for(amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    explicit = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if explicit:
        return explicit.rstrip("/")
    user = parts.username or "guest"
    password = parts.password or "guest"
    return f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:15672"


def _is_real_mongodb(url: str) -> bool:
    """Return True unless the server is FerretDB (which answers buildInfo with a ferretdb section)."""
    from pymongo import MongoClient

    with MongoClient(url, serverSelectionTimeoutMS=3000) as client:
        info = client.admin.command("buildInfo")
    return not any(key.lower().startswith("ferretdb") for key in info)


def _from_testcontainers() -> Servers | None:
    if not _docker_answers():
        return None
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    rabbit = RabbitMqContainer("rabbitmq:3.13-management").start()
    mongo = MongoDbContainer("mongo:7").start()
    host = rabbit.get_container_host_ip()
    amqp = f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/"
    management = f"http://guest:guest@{host}:{rabbit.get_exposed_port(15672)}"
    return Servers(amqp, mongo.get_connection_url(), management, "testcontainers", True)


def _from_local_stack() -> Servers | None:
    result = subprocess.run(["bash", str(ROOT / "scripts" / "stack.sh"), "infra"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return _from_env_or_defaults()


def find_servers() -> tuple[Servers | None, str]:
    """Return the servers and, when none were found, what was tried."""
    for finder in (_from_env_or_defaults, _from_testcontainers, _from_local_stack):
        servers = finder()
        if servers is not None:
            return servers, ""
    return None, (
        "no RabbitMQ/MongoDB found: AMQP_URL/MONGODB_URL (or 127.0.0.1 defaults) unreachable, "
        "no Docker daemon for testcontainers, and scripts/stack.sh infra failed"
    )
