"""Benchmarks: each measures its own ceiling in the same run and prints the ratio to it.

    python -m bench.run [--quick]

Saturation figures come from wrk (bench/wrk.py: apt-get install -y wrk), so the client's CPU is
not taken from the services it measures; the fixed-rate latency phases use a Python client, which
at half load leaves the cores room. Needs RabbitMQ and a MongoDB-protocol server (make up, or
scripts/stack.sh infra); starts its own copy of the four services on free ports, on a fresh vhost
and database. Results: bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import httpx
from pymongo import MongoClient

from bench.harness import (
    AMQP,
    BODY,
    cpu_seconds,
    docstore_pid,
    listening_pid,
    open_loop,
    percentile,
    rss_mb,
    running_system,
    save,
    settle,
    vhost,
)
from bench.wrk import bare_fastapi, require_wrk, wrk
from services.intake.adapters.tickets import COUNTERS, unpacked

WRK_THREADS = 1  # one wrk thread keeps 32 connections busy; a second would only take a core from the services


async def aio_pika_ceiling(messages: int) -> dict:
    """Publish with confirms to a quorum queue and consume with manual acks: messages per second."""
    body = (BODY["description"] * 8).encode()[:1200]
    with vhost() as url:
        connection = await aio_pika.connect_robust(url)
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue("ceiling", durable=True, arguments={"x-queue-type": "quorum"})
        done = asyncio.Event()
        seen = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen
            await message.ack()
            seen += 1
            if seen == messages:
                done.set()

        await queue.consume(on_message)
        started = time.perf_counter()
        publisher = await connection.channel(publisher_confirms=True)
        for _ in range(messages):
            await publisher.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key="ceiling")
        await done.wait()
        elapsed = time.perf_counter() - started
        await connection.close()
    return {"messages": messages, "seconds": round(elapsed, 3), "per_second": round(messages / elapsed, 1)}


async def intake(system, key: str, concurrency: int, posting_seconds: float, seconds: float) -> tuple[dict, dict]:
    """Accepted tickets per second at saturation (wrk), then latency at a fixed half-saturation offered load."""
    headers = {"Authorization": f"Bearer {key}"}
    posted = await asyncio.to_thread(wrk, system.url("intake"), key, posting_seconds, concurrency, WRK_THREADS)
    saturation = {"accepted": posted["accepted"], "requests": posted["requests"],
                  "seconds": round(posted["duration_us"] / 1e6, 3), "per_second": posted["accepted_per_second"],
                  "p50_ms": posted["p50_ms"], "p99_ms": posted["p99_ms"]}
    await settle(docstore_pid())
    async with httpx.AsyncClient(base_url=system.url("intake"), headers=headers, timeout=30) as client:
        latency = await open_loop(client, "/v1/tickets", BODY, max(1.0, saturation["per_second"] / 2), seconds)
        latency.pop("ids")
    return saturation, latency


def tickets_numbered(system) -> int:
    """Return how many ticket numbers intake has handed out in the system's database (one read by `_id`)."""
    with MongoClient(system.mongodb_url) as client:
        counter = client[system.mongodb_db][COUNTERS].find_one({"_id": "ticket"})
    return int((counter or {}).get("seq", 0))


def triaged_latencies(system, ids: list[str]) -> list[float]:
    """Return seconds from report to triage applied for each of these tickets that is triaged."""
    latencies = []
    with MongoClient(system.mongodb_url, tz_aware=True) as client:
        tickets = client[system.mongodb_db]["tickets"]
        for ticket_id in ids:
            document = unpacked(tickets.find_one({"_id": ticket_id}, {"created_at": 1, "timeline": 1}))
            triaged = [e["at"] for e in (document or {}).get("timeline", []) if e["action"] == "triaged"]
            if triaged:
                latencies.append((triaged[0] - document["created_at"]).total_seconds())
    return latencies


async def wait_all_triaged(system, ids: list[str], timeout: float = 300) -> float:
    """Return when every one of these tickets is triaged and has an SLA clock (perf_counter time).

    Looks tickets up by _id, oldest first, stopping at the first one not done: a query on other
    fields would scan the collections and load the database it is measuring.
    """
    deadline = time.perf_counter() + timeout
    remaining = list(ids)
    with MongoClient(system.mongodb_url, tz_aware=True) as client:
        db = client[system.mongodb_db]
        while time.perf_counter() < deadline:
            while remaining:
                ticket = db.tickets.find_one({"_id": remaining[0]}, {"severity": 1})
                clock = db.sla_clocks.find_one({"_id": remaining[0]}, {"triaged": 1})
                if not (ticket and ticket.get("severity") and clock and clock.get("triaged")):
                    break
                remaining.pop(0)
            if not remaining:
                return time.perf_counter()
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{len(remaining)} of {len(ids)} tickets not triaged within {timeout}s")


async def pipeline(system, key: str, posting_seconds: float, concurrency: int, seconds: float) -> dict:
    """End to end (POST → triaged → SLA clock stored) at saturation, then POST→triaged latency at half rate.

    Saturation: wrk posts for `posting_seconds`; the figure is the tickets it created over the time
    from its start until every one of them is triaged and has its clock. A POST still in flight when
    wrk stops creates a ticket whose answer wrk never reads: the pipeline handles it but the figure
    does not count it (`unanswered`, from the ticket-number counter), so it errs low, never high.
    The half-rate phase starts once the docstore is idle again, so the saturation run's leftover
    work (notifications, escalation) does not queue in front of it.
    """
    headers = {"Authorization": f"Bearer {key}"}
    created: list[str] = []
    numbered_before = tickets_numbered(system)
    idle_before = machine_idle()
    started = time.perf_counter()
    posted = await asyncio.to_thread(wrk, system.url("intake"), key, posting_seconds, concurrency, WRK_THREADS,
                                     created)
    if len(created) != posted["accepted"]:
        raise RuntimeError(f"wrk counted {posted['accepted']} accepted POSTs but {len(created)} created ids")
    finished = await wait_all_triaged(system, created)
    idle_after = machine_idle()
    unanswered = tickets_numbered(system) - numbered_before - posted["accepted"]  # their POSTs have ended by now
    rate = posted["accepted"] / (finished - started)
    half = max(1.0, rate / 2)
    settled = await settle(docstore_pid())
    async with httpx.AsyncClient(base_url=system.url("intake"), headers=headers, timeout=30) as client:
        offered = await open_loop(client, "/v1/tickets", BODY, half, seconds)
        ids = offered.pop("ids")
        await wait_all_triaged(system, ids)
    latencies = triaged_latencies(system, ids)
    return {"saturation": {"tickets": posted["accepted"], "seconds": round(finished - started, 3),
                           "per_second": round(rate, 1), "unanswered": unanswered,
                           "machine_idle_fraction": round((idle_after[0] - idle_before[0])
                                                          / max(1, idle_after[1] - idle_before[1]), 3)},
            "half_load": {"offered_per_second": round(half, 1), "tickets": len(latencies),
                          "settled_seconds_before": settled,
                          "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                          "p99_ms": round(percentile(latencies, 0.99) * 1000, 1)}}


def table(rows: list[tuple[str, str, str]]) -> str:
    """Return rows as an aligned text table."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def cpu_by_service(system, extra: dict[str, int | None]) -> dict[str, float]:
    """Return CPU seconds used so far per service (its replicas summed) and per extra named process."""
    found: dict[str, float] = {}
    for name, process in system.processes.items():
        service = name.split("-")[0]
        found[service] = found.get(service, 0.0) + cpu_seconds(process.pid)
    for name, pid in extra.items():
        if pid:
            found[name] = cpu_seconds(pid)
    found["load generator"] = sum(os.times()[:4])  # this process and its finished children (wrk)
    return found


def machine_idle() -> tuple[int, int]:
    """Return the machine's idle and total CPU ticks so far (/proc/stat: idle + iowait, all)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


async def main(quick: bool, replicas: int = 1) -> None:
    require_wrk()
    n = 150 if quick else 600
    seconds = 5 if quick else 20
    # wrk posts for a fixed time, not a fixed count: ~7 s at intake's ~85 accepted/s is the 600 tickets a
    # phase has always posted (each phase's tickets stay in the database and the next phase's cost grows with them)
    posting_seconds = 2 if quick else 7
    concurrency = 32
    print("measuring ceilings ...", flush=True)
    pika = await aio_pika_ceiling(n)
    posted = await asyncio.to_thread(bare_fastapi, seconds, concurrency, WRK_THREADS)
    bare = {"requests": posted["requests"], "seconds": round(posted["duration_us"] / 1e6, 3),
            "per_second": posted["accepted_per_second"], "p50_ms": posted["p50_ms"], "p99_ms": posted["p99_ms"]}
    with running_system(Path(tempfile.mkdtemp(prefix="bench-")), replicas=replicas) as system:
        key = system.create_key("reporter", "Bench", "bench@example.com")
        idle = {name: rss_mb(p.pid) for name, p in system.processes.items()}
        print("measuring intake ...", flush=True)
        saturation, latency = await intake(system, key, concurrency, posting_seconds, seconds)
        print("measuring the pipeline ...", flush=True)
        await settle(docstore_pid())
        extra = {"docstore": docstore_pid(), "rabbitmq": listening_pid(urlsplit(AMQP).port or 5672)}
        cpu_before = cpu_by_service(system, extra)
        flow = await pipeline(system, key, posting_seconds, concurrency, seconds)
        cpu_after = cpu_by_service(system, extra)
        handled = flow["saturation"]["tickets"] + flow["half_load"]["tickets"]
        cpu_per_ticket = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / handled, 1) for name in cpu_after}
        cpu_per_ticket["all"] = round(sum(cpu_per_ticket.values()), 1)
        loaded = {name: rss_mb(p.pid) for name, p in system.processes.items()}
    result = {
        "ceilings": {"aio_pika_confirm_ack_loop": pika, "bare_fastapi": bare},
        "intake": {"saturation": saturation, "half_load": latency,
                   "ratio_to_bare_fastapi": round(saturation["per_second"] / bare["per_second"], 3)},
        "pipeline": {**flow, "ratio_to_aio_pika_loop": round(flow["saturation"]["per_second"] / pika["per_second"], 3)},
        "memory_mb": {"idle": idle, "after_load": loaded},
        "replicas": replicas,
        "cpu_ms_per_ticket": cpu_per_ticket,
        # what the measured CPU cost allows on this machine's cores, whatever else is tuned
        "cpu_bound_per_second": round((os.cpu_count() or 1) * 1000 / cpu_per_ticket["all"], 1),
    }
    path = save("throughput" if replicas == 1 else f"throughput-{replicas}-replicas", result)
    rows = [("figure", "value", "goal"),
            ("aio-pika ceiling", f"{pika['per_second']} msg/s", ""),
            ("bare FastAPI ceiling", f"{bare['per_second']} req/s", ""),
            ("intake accepted", f"{saturation['per_second']} /s ({result['intake']['ratio_to_bare_fastapi']:.0%})",
             ">= 50% of bare FastAPI"),
            ("intake p50/p99 at half load", f"{latency['p50_ms']} / {latency['p99_ms']} ms", ""),
            ("pipeline end to end", f"{flow['saturation']['per_second']} /s "
             f"({result['pipeline']['ratio_to_aio_pika_loop']:.0%})", ">= 30% of aio-pika loop"),
            ("POST→triaged p50/p99 at half load", f"{flow['half_load']['p50_ms']} / {flow['half_load']['p99_ms']} ms",
             "p99 <= 250 ms"),
            ("RSS idle (max)", f"{max(idle.values())} MB", "< 150 MB"),
            ("RSS after load (max)", f"{max(loaded.values())} MB", "< 150 MB"),
            ("CPU per ticket (ms)", ", ".join(f"{k} {v}" for k, v in cpu_per_ticket.items()), ""),
            ("tickets/s that CPU cost allows", f"{result['cpu_bound_per_second']} /s on {os.cpu_count()} cores "
             f"(idle during saturation {flow['saturation']['machine_idle_fraction']:.0%})", "")]
    print(table(rows))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (a few hundred requests)")
    parser.add_argument("--replicas", type=int, default=1, help="processes of each service (SO_REUSEPORT)")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.replicas))
