"""Fault harness: steady load while services are killed, the broker and docstore restart, poison arrives.

    python -m bench.chaos [--tickets N] [--rate R] [--replicas N] [--rabbit-cluster]

With --replicas 2 every service runs two processes and the kills hit one replica of each in turn
(the other carries the load while it restarts).

With --rabbit-cluster the services run on a private three-node RabbitMQ cluster (bench.cluster, its
own ports and data; the shared broker is not touched) with every node in AMQP_URL, and the faults
are the cluster's (bench.chaos_cluster): a node stopped and one SIGKILLed under load, each started
again, poison, and SLA clocks made overdue so steps fire while nodes go. The figures are saved to
bench/results/chaos-rabbit-cluster.json.

Bounded (a fixed number of tickets, loopback only) and stops by itself. At the end it checks and
prints the invariants; the exit code is 1 if one fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from email import message_from_bytes, policy
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from pymongo import MongoClient

from bench.chaos_cluster import cluster_faults, triage_delays
from bench.cluster import running_cluster
from bench.faults import (
    FaultNotInjected,
    restart_docstore,
    restart_rabbitmq,
    send_poison,
)
from bench.harness import IN_CI, MANAGEMENT, running_system, save
from services.intake.adapters.tickets import unpacked
from shared.messaging.urls import first_amqp_url

SKIPPED = "SKIPPED: "
FAILED = "FAILED: "


async def steady_load(system, key: str, tickets: int, rate: float, accepted: list[str], stop: asyncio.Event,
                      ids: list[str] | None = None, refused: Counter | None = None) -> None:
    """Post `tickets` tickets at `rate`/s, retrying each with its Idempotency-Key until it is accepted.

    Accepted numbers go to `accepted` (and ids to `ids`); the status of every answer that was not a 201
    is counted in `refused` (connection errors as 0).
    """
    ids = [] if ids is None else ids
    refused = Counter() if refused is None else refused
    async with httpx.AsyncClient(base_url=system.url("intake"), headers={"Authorization": f"Bearer {key}"},
                                 timeout=10) as client:
        for i in range(tickets):
            body = {"title": f"Chaos report {i}", "type": "data", "description": "sync fails", "production": i % 5 == 0}
            for _ in range(200):
                try:
                    response = await client.post("/v1/tickets", json=body, headers={"Idempotency-Key": f"chaos-{i}"})
                    if response.status_code == 201:
                        accepted.append(response.json()["number"])
                        ids.append(response.json()["id"])
                        break
                    refused[response.status_code] += 1
                except httpx.HTTPError:
                    refused[0] += 1
                await asyncio.sleep(0.25)
            await asyncio.sleep(1 / rate)
    stop.set()


Fault = tuple[str, Callable[[], Awaitable[str]]]
"""A fault's name and what injects it (and waits for recovery), returning what happened."""


def local_faults(system, amqp_url: str, poison: list[bytes]) -> list[Fault]:
    """Return the round on the local stack: kill -9 and restart each service (its last replica), restart the
    broker, send poison, restart the docstore (the poison sent is appended to `poison`)."""

    async def restart(name: str) -> str:
        system.kill(name)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(system.start, name)
        return "restarted"

    victims = [system.names(service)[-1] for service in ("triage", "escalation", "notifier", "intake")]
    return [*((f"kill -9 {name}", partial(restart, name)) for name in victims),
            ("restart RabbitMQ", partial(asyncio.to_thread, restart_rabbitmq)),
            ("poison messages", partial(poison_step, amqp_url, poison)),
            ("restart docstore", partial(asyncio.to_thread, restart_docstore))]


async def poison_step(amqp_url: str, poison: list[bytes]) -> str:
    """Send the poison messages, remembering them in `poison`; return what was sent."""
    sent = await send_poison(amqp_url)
    poison += sent
    return f"{len(sent)} sent"


async def inject_faults(steps: list[Fault], log: list[tuple[str, str]], stop: asyncio.Event) -> None:
    """Inject each fault in turn, logging how long recovery took; the round repeats while the load runs."""
    rounds = 0
    while rounds == 0 or not stop.is_set():
        rounds += 1
        for what, inject in steps:
            await asyncio.sleep(2)
            started = time.perf_counter()
            under_load = "" if stop.is_set() else " under load"
            try:
                outcome = await inject()
            except FaultNotInjected as exc:
                log.append((what, f"{SKIPPED}{exc}"))
                continue
            except Exception as exc:  # the system (or the fault) did not recover in time: an invariant row says so
                log.append((what, f"{FAILED}{type(exc).__name__}: {exc}"))
                continue
            log.append((what, f"{outcome} in {time.perf_counter() - started:.1f}s{under_load}"))


def _management_get(path: str, body: dict | None = None, management: str = MANAGEMENT) -> Any:
    parts = urlsplit(management)
    request = urllib.request.Request(f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{path}",
                                     data=json.dumps(body).encode() if body else None,
                                     method="POST" if body else "GET",
                                     headers={"content-type": "application/json",
                                              "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def dead_letters(amqp_url: str, management: str = MANAGEMENT) -> list[dict]:
    """Return every message in the dead-letter queues of the vhost (left in place), asking `management`."""
    vhost = quote(unquote(urlsplit(first_amqp_url(amqp_url)).path[1:]) or "/", safe="")
    found = []
    for queue in _management_get(f"/api/queues/{vhost}", management=management):
        # every DLQ is read, whatever its listed count: a node that just came back may not have reported it yet
        if queue["name"].endswith(".dlq"):
            found += _management_get(f"/api/queues/{vhost}/{quote(queue['name'], safe='')}/get",
                                     {"count": 1000, "ackmode": "ack_requeue_true", "encoding": "auto"}, management)
    return found


def read_mail(mail_dir: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Return the Message-IDs received per delivery and the ticket numbers acknowledged."""
    ids: dict[str, list[str]] = {}
    acknowledged: set[str] = set()
    for path in mail_dir.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        ids.setdefault(message.get("X-Incidents-Delivery") or message["Message-ID"], []).append(message["Message-ID"])
        subject = str(message["Subject"])
        if "We received your report" in subject and subject.startswith("["):
            acknowledged.add(subject[1:subject.index("]")])
    return ids, acknowledged


def check(system, accepted: list[str], poison: list[bytes], mail_dir: Path, amqp_url: str, timeout: float,
          management: str = MANAGEMENT, overdue: dict[str, str] | None = None) -> list[tuple[str, bool, str]]:
    """Wait for the system to settle, then return (invariant, held, evidence) rows.

    `overdue` (clock id -> breach step) adds a row: each of those steps fired exactly once.
    """
    db = MongoClient(system.mongodb_url, tz_aware=True)[system.mongodb_db]
    deadline = time.monotonic() + timeout
    while True:
        tickets = {t["number"]: unpacked(t) for t in db.tickets.find({}, {"number": 1, "timeline": 1, "severity": 1})}
        triaged = [n for n in accepted if n in tickets and tickets[n]["severity"] is not None]
        if len(triaged) == len(accepted) or time.monotonic() > deadline:
            break
        time.sleep(1)
    rows = []
    missing = [n for n in accepted if n not in tickets]
    untriaged = [n for n in accepted if n in tickets and tickets[n]["severity"] is None]
    twice = [n for n in accepted if n in tickets and sum(e["action"] == "triaged" for e in tickets[n]["timeline"]) > 1]
    rows.append(("every 201 ticket exists", not missing, f"{len(accepted)} accepted, {len(missing)} missing"))
    rows.append(("every 201 ticket triaged exactly once", not untriaged and not twice,
                 f"{len(untriaged)} untriaged, {len(twice)} triaged twice"))
    while True:  # every accepted ticket is acknowledged by e-mail; wait for the notifier to catch up
        ids, acknowledged = read_mail(mail_dir)
        if set(accepted) <= acknowledged or time.monotonic() > deadline:
            break
        time.sleep(1)
    unacknowledged = [n for n in accepted if n not in acknowledged]
    rows.append(("every 201 ticket acknowledged by e-mail", not unacknowledged,
                 f"{len(accepted) - len(unacknowledged)} of {len(accepted)} acknowledged"))
    # A kill -9 between the mail server's accept and the record of it makes the notifier send again
    # once the lease runs out: the same message, same Message-ID, which receivers de-duplicate on.
    # Two different messages for one (event, recipient, channel) would be a real duplicate.
    different = [k for k, message_ids in ids.items() if len(set(message_ids)) > 1]
    resent = [k for k, message_ids in ids.items() if len(message_ids) > 1 and len(set(message_ids)) == 1]
    rows.append(("no notification delivered twice (event, recipient, channel)", not different,
                 f"{sum(map(len, ids.values()))} e-mails, {len(different)} different messages for one delivery, "
                 f"{len(resent)} identical resends after a crash mid-send"))
    letters = dead_letters(amqp_url, management)
    unexpected = [m for m in letters if m["payload"].encode() not in poison]
    rows.append(("dead-letter queues hold only the poison", not unexpected and len(letters) >= len(poison),
                 f"{len(letters)} dead letters, {len(unexpected)} not poison"))
    fired_twice = [c["_id"] for c in db.sla_clocks.find({}, {"fired": 1}) if len(c.get("fired", [])) != len(set(c.get("fired", [])))]
    rows.append(("no SLA step fired twice", not fired_twice, f"{db.sla_clocks.count_documents({})} clocks, {len(fired_twice)} with a repeat"))
    if overdue is not None:
        while True:
            fired = {c["_id"]: c["fired"] for c in db.sla_clocks.find({}, {"fired": 1}) if c["_id"] in overdue}
            if all(key in fired.get(t, []) for t, key in overdue.items()) or time.monotonic() > deadline:
                break
            time.sleep(1)
        not_once = [t for t, key in overdue.items() if fired.get(t, []).count(key) != 1]
        rows.append(("every clock made overdue breached exactly once", bool(overdue) and not not_once,
                     f"{len(overdue)} made overdue, {len(not_once)} not breached exactly once"
                     + "".join(f"; {t} wants {overdue[t]}, fired {fired.get(t)}" for t in not_once[:3])))
    return rows


async def run(tickets: int, rate: float, settle_seconds: float = 180, replicas: int = 1,
              rabbit_cluster: bool = False) -> bool:
    """Run the harness; print the fault log and the invariants; return True if every invariant held."""
    log_dir = Path(tempfile.mkdtemp(prefix="chaos-"))
    load_before = [round(value, 2) for value in os.getloadavg()]
    started = time.monotonic()
    accepted: list[str] = []
    ids: list[str] = []
    refused: Counter = Counter()
    poison: list[bytes] = []
    faults: list[tuple[str, str]] = []
    overdue: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    with ExitStack() as stack:
        cluster = stack.enter_context(running_cluster(log_dir / "rabbit-cluster")) if rabbit_cluster else None
        system = stack.enter_context(running_system(log_dir, replicas=replicas, OUTBOX_POLL_SECONDS="0.5",
                                                    amqp_url=cluster.amqp_url() if cluster else None))
        key = system.create_key("reporter", "Chaos", "chaos@example.com")
        if cluster is None:
            steps = local_faults(system, system.amqp_url, poison)
        else:
            steps = cluster_faults(system, cluster, accepted, ids, poison, overdue, nodes,
                                   partial(poison_step, system.amqp_url, poison))
        stop = asyncio.Event()
        load = asyncio.create_task(steady_load(system, key, tickets, rate, accepted, stop, ids, refused))
        await inject_faults(steps, faults, stop)
        await load
        management = cluster.management_url() if cluster else MANAGEMENT
        rows = await asyncio.to_thread(check, system, accepted, poison, log_dir / "mail", system.amqp_url,
                                       settle_seconds, management, overdue if cluster else None)
        if cluster is not None:
            with MongoClient(system.mongodb_url, tz_aware=True) as client:
                delays = triage_delays(client[system.mongodb_db], accepted)
    skipped = [what for what, outcome in faults if outcome.startswith(SKIPPED)]
    failed = [what for what, outcome in faults if outcome.startswith(FAILED)]
    rows.append(("every fault injected was recovered from", not failed,
                 f"{len(failed)} did not recover: {', '.join(failed)}" if failed else "all recovered"))
    rows.append(("every fault was injected" + ("" if IN_CI or rabbit_cluster else " (required under CI=true)"),
                 not skipped or not (IN_CI or rabbit_cluster), f"{len(faults) - len(skipped)} of {len(faults)} injected"
                 + (f"; not injected: {', '.join(sorted(set(skipped)))}" if skipped else "")))
    print("\nfaults injected:")
    for what, outcome in faults:
        print(f"  {what:<22} {outcome}")
    if skipped:
        print("\n" + "!" * 78 + f"\n!! {len(skipped)} FAULT(S) WERE NOT INJECTED: the invariants below did not face them."
              "\n!! Run against the stack scripts/stack.sh starts (make install) to inject every fault.\n" + "!" * 78)
    print("\ninvariants:")
    for name, held, evidence in rows:
        print(f"  {'ok  ' if held else 'FAIL'} {name:<62} {evidence}")
    if rabbit_cluster:
        print(f"\ntriage delay: p50 {delays['p50_s']} s, max {delays['max_s']} s; answers other than 201 while "
              f"posting: {dict(refused) or 'none'}")
        path = save("chaos-rabbit-cluster", {
            "replicas": replicas, "tickets": tickets, "rate": rate, "accepted": len(accepted),
            "answers_other_than_201": {str(k): n for k, n in refused.items()}, "triage_delay": delays,
            "clocks_made_overdue": len(overdue), "node_faults": nodes, "faults": faults,
            "invariants": [{"invariant": name, "held": held, "evidence": evidence} for name, held, evidence in rows],
            "seconds": round(time.monotonic() - started), "load_before": load_before,
            "load_after": [round(value, 2) for value in os.getloadavg()]})
        print(f"figures: {path}")
    print(f"\nlogs: {log_dir}")
    return all(held for _, held, _ in rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="tickets per second offered")
    parser.add_argument("--replicas", type=int, default=1, choices=range(1, 10), help="processes of each service")
    parser.add_argument("--rabbit-cluster", action="store_true",
                        help="run on a private three-node RabbitMQ cluster and stop and kill its nodes")
    args = parser.parse_args()
    raise SystemExit(0 if asyncio.run(run(args.tickets, args.rate, replicas=args.replicas,
                                          rabbit_cluster=args.rabbit_cluster)) else 1)
