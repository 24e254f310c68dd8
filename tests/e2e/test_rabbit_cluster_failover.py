"""The four services on a three-node RabbitMQ cluster: the node they are connected to stops while tickets
are posted; every accepted ticket is still triaged exactly once and no healthy event is dead-lettered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.cluster import RabbitCluster
from bench.system import SERVICES, wait_until
from shared.messaging.topology import CONSUMER_QUEUES
from tests.e2e.api import wait_all_triaged_once
from tests.rabbit_cluster import private_cluster

pytestmark = pytest.mark.e2e

TICKETS = 60


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[RabbitCluster]:
    """Three clustered nodes for this module alone; stopped and removed afterwards."""
    yield from private_cluster(tmp_path_factory.mktemp("rabbit-cluster"))


@pytest.fixture(scope="module")
def amqp_url(cluster: RabbitCluster) -> str:
    """The services' AMQP_URL: every node of the cluster, node 1 first."""
    return cluster.amqp_url()


def test_every_accepted_ticket_is_triaged_once_when_the_services_broker_node_stops(system, cluster):
    key = system.create_key("reporter", "Load", "load@example.com")
    headers = {"Authorization": f"Bearer {key}"}
    numbers: list[str] = []
    refused: list[int] = []

    def post_tickets() -> None:
        with httpx.Client(base_url=system.url("intake"), headers=headers, timeout=10) as client:
            for i in range(TICKETS):
                response = client.post("/v1/tickets", json={"title": f"Report {i}", "type": "data",
                                                            "description": "sync failures"})
                (numbers.append(response.json()["number"]) if response.status_code == 201
                 else refused.append(response.status_code))
                time.sleep(0.05)

    poster = threading.Thread(target=post_tickets)
    poster.start()
    wait_until(lambda: len(numbers) >= TICKETS // 3, "a third of the tickets accepted", timeout=60, interval=0.01)
    gone = cluster.busiest_node("/")
    cluster.stop_node(gone)
    poster.join()
    assert not refused, f"intake refused tickets while a broker node was down: {refused}"
    assert len(numbers) == TICKETS

    assert not wait_all_triaged_once(system.url("intake"), headers, numbers, 120)
    wait_until(lambda: set(SERVICES) <= _connected(cluster),
               lambda: f"every service connected to a live node; have {_connected(cluster)}", 60, interval=0.5)
    for spec in CONSUMER_QUEUES.values():
        dead_lettered = cluster.queue("/", spec.dead_letter_queue).get("messages", 0)
        assert dead_lettered == 0, f"{spec.dead_letter_queue} holds {dead_lettered} events after the node stopped"


def _connected(cluster: RabbitCluster) -> set[str]:
    """Return the connection names of the clients the cluster's live nodes report."""
    connections = cluster.management("GET", "connections?columns=client_properties") or []
    return {c.get("client_properties", {}).get("connection_name", "") for c in connections}
