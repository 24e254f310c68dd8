"""The fault harness's round on a private three-node RabbitMQ cluster (bench.chaos --rabbit-cluster).

The services (two processes each with --replicas 2) get every node in AMQP_URL, node 1 first, so
they all start on node 1. Each round: response clocks of recent tickets are made overdue (so SLA
steps fire and their events travel while a node is gone), the node most clients are on is stopped
with `rabbitmqctl stop` and started again, poison is sent, more clocks are made overdue, and the
node the clients moved to is SIGKILLed and started again. Each node fault is timed: until every
service process is connected to another node, until the node is down, back, and until every quorum
queue has its three replicas online again.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from typing import Any

from bench.cluster import RabbitCluster
from bench.faults import break_node, make_overdue
from bench.harness import percentile
from bench.system import SERVICES
from services.intake.adapters.tickets import unpacked
from shared.messaging.topology import CONSUMER_QUEUES

OVERDUE_PER_ROUND = 5
"""Response clocks made overdue before each node fault."""


def cluster_faults(system, cluster: RabbitCluster, accepted: list[str], ids: list[str], poison: list[bytes],
                   overdue: dict[str, str], nodes: list[dict[str, Any]], send_poison) -> list:
    """Return the round of faults on the cluster; node figures go to `nodes`, clocks made overdue to `overdue`."""
    processes = {service: system.replicas for service in SERVICES}
    queues = [name for spec in CONSUMER_QUEUES.values() for name in (spec.name, spec.dead_letter_queue)]

    async def node(fault: str) -> str:
        before = len(accepted)
        found = await asyncio.to_thread(break_node, cluster, fault, processes, queues)
        found["tickets_accepted_meanwhile"] = len(accepted) - before
        found["load"] = [round(value, 2) for value in os.getloadavg()]
        nodes.append(found)
        return (f"node {found['node']}: every service process on another node after {found['services_moved_after_s']}s,"
                f" node down after {found['node_down_after_s']}s, back after {found['node_back_after_s']}s, every "
                f"queue replica online after {found['queues_whole_after_s']}s; {found['tickets_accepted_meanwhile']} "
                f"tickets accepted meanwhile")

    async def due() -> str:
        chosen = await make_overdue(system.mongodb_url, system.mongodb_db, list(ids), OVERDUE_PER_ROUND, set(overdue))
        overdue.update(chosen)
        return f"{len(chosen)} response clocks made a minute overdue"

    return [("SLA steps made due", due), ("stop RabbitMQ node", partial(node, "stop")),
            ("poison messages", send_poison), ("SLA steps made due", due),
            ("kill -9 RabbitMQ node", partial(node, "kill"))]


def triage_delays(db, numbers: list[str]) -> dict[str, float]:
    """Return p50 and max seconds from a ticket's first timeline entry to its triage, over these tickets."""
    delays, wanted = [], set(numbers)
    for ticket in db.tickets.find({}, {"number": 1, "timeline": 1}):
        if ticket["number"] in wanted:
            entries = unpacked(ticket)["timeline"]
            triaged = next((e["at"] for e in entries if e["action"] == "triaged"), None)
            if triaged is not None:
                delays.append((triaged - entries[0]["at"]).total_seconds())
    return {"p50_s": round(percentile(delays, 0.5), 2), "max_s": round(max(delays), 2) if delays else None}
