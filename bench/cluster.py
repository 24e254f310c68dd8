"""Three clustered RabbitMQ nodes for the fault harness and the tests, run by scripts/rabbit_cluster.sh.

Each RabbitCluster has its own directory, ports and node names, so a test's cluster never meets the
one `make cluster-up` started, nor the shared single node of scripts/stack.sh.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import urllib.request
from base64 import b64encode
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shared.ids import new_id
from shared.messaging.urls import node_address

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "rabbit_cluster.sh"
NODES = (1, 2, 3)


class ClusterError(RuntimeError):
    """The cluster script failed; the message carries what it printed."""


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_base_port(first: int = 5700, last: int = 25000) -> int:
    """Return an AMQP base port whose nine node ports and CLI range (see the script) are free right now."""
    for _ in range(200):
        base = random.randrange(first, last)
        ports = [base + offset + n for offset in (0, 10000, 20000) for n in range(3)]
        ports += range(base + 30020, base + 30040)
        if all(_free(port) for port in ports):
            return base
    raise ClusterError("found no free range of ports for a RabbitMQ cluster")


@dataclass
class RabbitCluster:
    """Three RabbitMQ nodes clustered on this machine; node n listens for AMQP on base_port + n - 1."""

    directory: Path
    base_port: int = 5681
    name: str = "rabbit-c"

    @classmethod
    def private(cls, directory: Path) -> RabbitCluster:
        """Return a cluster on free ports with node names no other cluster here uses, data in directory."""
        return cls(directory, free_base_port(), f"rabbit-t{new_id()[-6:].lower()}-")

    def run(self, *args: str, timeout: float = 300) -> str:
        """Run the cluster script with these arguments; return its output, or raise ClusterError with it."""
        env = {**os.environ, "RABBIT_CLUSTER_DIR": str(self.directory), "RABBIT_CLUSTER_PORT": str(self.base_port),
               "RABBIT_CLUSTER_NAME": self.name}
        result = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise ClusterError(f"rabbit_cluster.sh {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-3000:]}")
        return result.stdout + result.stderr

    def up(self) -> str:
        """Start and cluster the three nodes (nothing for those already running); return the script's report."""
        return self.run("up")

    def down(self) -> None:
        """Stop every node."""
        self.run("down")

    def clean(self) -> None:
        """Stop every node and remove the cluster's data."""
        self.run("clean")

    def stop_node(self, node: int) -> None:
        """Stop one node gracefully (its connections are closed, its queue replicas go offline)."""
        self.run("stop-node", str(node))

    def kill_node(self, node: int) -> None:
        """SIGKILL one node's Erlang VM, as in a crash."""
        self.run("kill-node", str(node))

    def start_node(self, node: int) -> None:
        """Start a stopped node; it rejoins the cluster."""
        self.run("start-node", str(node))

    def node_name(self, node: int) -> str:
        """Return node n's Erlang node name."""
        return f"{self.name}{node}@localhost"

    def amqp_port(self, node: int) -> int:
        """Return node n's AMQP port."""
        return self.base_port + node - 1

    def management_port(self, node: int) -> int:
        """Return node n's management port."""
        return self.base_port + 10000 + node - 1

    def amqp_url(self, vhost: str = "/", nodes: tuple[int, ...] = NODES) -> str:
        """Return AMQP_URL for the cluster: the nodes' URLs (as guest, on loopback) comma-separated, in this order."""
        path = quote(vhost, safe="")
        return ",".join(f"amqp://guest:guest@127.0.0.1:{self.amqp_port(n)}/{path}" for n in nodes)

    def node_of(self, url: str) -> int:
        """Return the node a URL (or host:port) points at."""
        address = url if "://" not in url else node_address(url)
        port = int(address.rsplit(":", 1)[1])
        for node in NODES:
            if self.amqp_port(node) == port:
                return node
        raise ValueError(f"{address} is no node of this cluster")

    def management(self, method: str, path: str, body: Any = None, *, node: int | None = None) -> Any:
        """Call the management API of a node (the first that answers when none is named); return the JSON."""
        errors = []
        for candidate in ([node] if node else NODES):
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.management_port(candidate)}/api/{path}", method=method,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"content-type": "application/json",
                         "Authorization": "Basic " + b64encode(b"guest:guest").decode()})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    content = response.read()
                    return json.loads(content) if content else None
            except OSError as exc:
                errors.append(f"node {candidate}: {exc}")
        raise ClusterError(f"{method} /api/{path} failed on every node: {'; '.join(errors)}")

    def management_url(self) -> str:
        """Return the management URL of the first node whose API answers."""
        for node in NODES:
            try:
                self.management("GET", "overview", node=node)
                return f"http://127.0.0.1:{self.management_port(node)}"
            except ClusterError:
                continue
        raise ClusterError("no node's management API answers")

    def running_nodes(self) -> list[str]:
        """Return the names of the nodes the cluster reports running."""
        return [n["name"] for n in self.management("GET", "nodes?columns=name,running") if n.get("running")]

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        """Return a queue as the management API shows it (members, online, leader for a quorum queue)."""
        return self.management("GET", f"queues/{quote(vhost, safe='')}/{quote(name, safe='')}")

    def busiest_node(self, vhost: str) -> int:
        """Return the node holding most client connections to the vhost (node 1 when there are none)."""
        counts = dict.fromkeys(NODES, 0)
        for connection in self.management("GET", "connections?columns=node,vhost") or []:
            if connection.get("vhost") == vhost:
                for node in NODES:
                    if connection.get("node") == self.node_name(node):
                        counts[node] += 1
        return max(NODES, key=lambda node: (counts[node], -node))

    def connections_off(self, node: int) -> Counter:
        """Return how many client connections of each name the other nodes hold (asked of one of them)."""
        gone = self.node_name(node)
        for other in (n for n in NODES if n != node):
            try:
                found = self.management("GET", "connections?columns=node,client_properties", node=other) or []
            except ClusterError:
                continue
            return Counter(c.get("client_properties", {}).get("connection_name", "") for c in found
                           if c.get("node") != gone)
        raise ClusterError(f"no node but {node} answers")

    def offline_replicas(self, vhost: str, names: list[str]) -> dict[str, int]:
        """Return, for each named quorum queue with a member offline, how many of its members are offline."""
        missing = {}
        for name in names:
            queue = self.queue(vhost, name)
            offline = len(set(queue.get("members", [])) - set(queue.get("online", [])))
            if offline or len(queue.get("members", [])) < len(NODES):
                missing[name] = max(offline, len(NODES) - len(queue.get("online", [])))
        return missing


@contextmanager
def running_cluster(directory: Path) -> Iterator[RabbitCluster]:
    """Yield three clustered nodes on free ports with their data in directory; stopped and removed afterwards."""
    cluster = RabbitCluster.private(directory)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.clean()

