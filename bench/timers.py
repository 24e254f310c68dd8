"""Timer benchmarks: how late due SLA steps fire with many timers pending, and what the due query costs.

    python -m bench.timers [--pending 100000] [--small 10000]
    python -m bench.timers --replicas 2 [--rounds 3]   (lateness with 1 and with 2 escalation processes)

Builds clock documents the way escalation does (one real clock from ticket.triaged, copied with
new ids and due times spread over the next `--horizon-days`), schedules them in the clocks' timing
wheel as escalation's store does, runs the real timer loop with the system clock, and measures how
late each due step was fired. Then times the due-timer query with `--small` versus `--pending`
clocks stored. `--baseline-scan` also times the indexed collection query the wheel replaced.

`--replicas N` instead runs the timer loop in 1, 2, ... N separate processes competing on the same
wheel (bench.timer_replicas), with clocks whose first SLA warning really falls due, and counts every
step fired more than once; the figures go to bench/results/timers-N-replicas.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import timer_replicas
from bench.harness import MONGO, docstore_pid, percentile, save, settle
from services.escalation.adapters import clocks
from services.escalation.adapters.policy_file import load_policy
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers
from shared.clock import SystemClock
from shared.contracts import Reporter, Severity, TicketTriaged, make_envelope
from shared.ids import new_id
from shared.persistence import ensure_indexes, is_docstore, make_client
from shared.sla.config import load_service_levels


async def template(store: clocks.MongoClocks, updater: ClockUpdater) -> dict:
    """Return one real clock document, created by escalation's own handler."""
    now = datetime.now(UTC)
    event = TicketTriaged(
        ticket_id=new_id(), number="INC-000001", title="Cannot log in", severity=Severity.HIGH, rule="reporter",
        reason="bench", tier=1, team="service-desk", reported_at=now, acknowledge_due_at=now + timedelta(hours=1),
        response_due_at=now + timedelta(hours=1), resolution_due_at=now + timedelta(hours=8), response_target="1 hour",
        reporter=Reporter(id="r1", name="Ada", email="ada@example.com"))
    envelope = make_envelope(event, producer="bench", occurred_at=datetime.now(UTC), ticket_id=event.ticket_id)
    await handlers(updater)["ticket.triaged"](envelope, event)
    document = await store.get(event.ticket_id)
    await store.collection.delete_one({"_id": event.ticket_id})
    return document


async def fill(store: clocks.MongoClocks, base: dict, count: int, horizon: timedelta, rng: random.Random,
               batch_size: int = 100_000) -> None:
    """Store and schedule `count` copies of the clock, next due at random times within the horizon.

    Like the store's create, each batch is scheduled before it is inserted (write-ahead); batches
    are large so that one schedule write covers many clocks due in the same bucket.
    """
    start = datetime.now(UTC) + timedelta(minutes=10)
    while count > 0:
        batch = [{**base, "_id": new_id(), "next_due_at": start + horizon * rng.random(), "outbox": [],
                  "fired": list(base.get("fired", []))} for _ in range(min(count, batch_size))]
        await store.schedule.add_many([(d["_id"], d["next_due_at"]) for d in batch], datetime.now(UTC))
        for offset in range(0, len(batch), 1000):
            await store.collection.insert_many(batch[offset:offset + 1000])
        count -= len(batch)


async def query_cost(store: clocks.MongoClocks, repeats: int = 7) -> float:
    """Return the median seconds of one due-timer query (nothing due)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await store.due(datetime.now(UTC), 100)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def scan_cost(store: clocks.MongoClocks, repeats: int = 3) -> float:
    """Return the median seconds of the query the wheel replaced: due clocks by the next_due_at index."""
    await store.collection.create_index([("next_due_at", 1)])
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        now = datetime.now(UTC)
        await store.collection.find({"next_due_at": {"$lte": now}, "lease_until": {"$lte": now}},
                                    {"_id": 1}).sort("next_due_at", 1).limit(100).to_list()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def lateness(store: clocks.MongoClocks, updater: ClockUpdater, base: dict, due_count: int, window: float) -> dict:
    """Schedule due_count clocks over the next `window` seconds, run the real loop, return lateness figures."""
    start = datetime.now(UTC) + timedelta(seconds=5)
    scheduled: dict[str, datetime] = {}
    for i in range(due_count):
        ticket_id = new_id()
        due = start + timedelta(seconds=window * i / due_count)
        scheduled[ticket_id] = due
        document = {**base, "_id": ticket_id, "next_due_at": due, "outbox": [], "updated_at": datetime.now(UTC)}
        await store.create(document)
    late: list[float] = []
    original = updater.fire

    async def timed_fire(ticket_id: str, owner: str, lease: timedelta):
        if ticket_id in scheduled:
            late.append((datetime.now(UTC) - scheduled.pop(ticket_id)).total_seconds())
        return await original(ticket_id, owner, lease)

    updater.fire = timed_fire  # type: ignore[method-assign]
    loop = TimerLoop(updater, store, SystemClock(), poll_seconds=1.0)
    task = asyncio.create_task(loop.run())
    deadline = time.monotonic() + window + 120
    while scheduled and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    task.cancel()
    return {"due_steps": due_count, "fired": len(late), "not_fired": len(scheduled),
            "p50_s": round(percentile(late, 0.5), 3), "p99_s": round(percentile(late, 0.99), 3)}


@asynccontextmanager
async def fresh_wheel() -> AsyncIterator[tuple[str, Any, bool, clocks.MongoClocks, Any, ClockUpdater, dict]]:
    """Yield a fresh database's (name, db, is docstore, clock store, policy, updater, template clock); drop it after."""
    client = make_client(MONGO)
    name = f"bench_timers_{new_id().lower()[-8:]}"
    db = client[name]
    try:
        await ensure_indexes(db, clocks.INDEXES)
        docstore = await is_docstore(db)
        store = clocks.MongoClocks(db)
        policy = load_policy(load_service_levels())
        updater = ClockUpdater(store, policy, SystemClock())
        await store.index_existing(datetime.now(UTC))  # a fresh database: nothing to backfill, marked done
        yield name, db, docstore, store, policy, updater, await template(store, updater)
    finally:
        await client.drop_database(name)
        await client.close()


async def main(pending: int, small: int, due_count: int, window: float, horizon_days: float,
               baseline_scan: bool) -> None:
    async with fresh_wheel() as (name, db, docstore, store, policy, updater, base):
        rng = random.Random(7)
        horizon = timedelta(days=horizon_days)
        print(f"storing {small} pending clocks due within {horizon_days:g} days ...", flush=True)
        started = time.perf_counter()
        await fill(store, base, small, horizon, rng)
        await store.due(datetime.now(UTC), 100)  # the first pass settles the floor
        small_cost = await query_cost(store)
        small_scan = await scan_cost(store) if baseline_scan else None
        print(f"storing {pending - small} more ...", flush=True)
        await fill(store, base, pending - small, horizon, rng)
        fill_rate = pending / (time.perf_counter() - started)
        big_cost = await query_cost(store)
        big_scan = await scan_cost(store) if baseline_scan else None
        print(f"firing {due_count} due steps with {pending} pending ...", flush=True)
        late = await lateness(store, updater, base, due_count, window)
        result = {"server": "docstore (FerretDB/SQLite)" if docstore else "MongoDB",
                  "due_query": "timing wheel (shared.schedule)",
                  "horizon_days": horizon_days,
                  "stored_clocks_per_second": round(fill_rate),
                  "due_query_seconds": {str(small): round(small_cost, 5), str(pending): round(big_cost, 5),
                                        "ratio": round(big_cost / small_cost, 2)},
                  "lateness": {"pending": pending, **late}}
        if baseline_scan:
            result["indexed_collection_query_seconds"] = {str(small): round(small_scan, 4),
                                                          str(pending): round(big_scan, 4),
                                                          "ratio": round(big_scan / small_scan, 1)}
        path = save(f"timers-{pending}", result)
        print(f"due-timer query: {small_cost * 1000:.2f} ms at {small} pending, {big_cost * 1000:.2f} ms at "
              f"{pending} (x{result['due_query_seconds']['ratio']}; goal <= 2x at 1,000,000 vs 10,000)")
        if baseline_scan:
            print(f"the collection query it replaced: {small_scan * 1000:.0f} ms at {small}, "
                  f"{big_scan * 1000:.0f} ms at {pending} (x{result['indexed_collection_query_seconds']['ratio']})")
        print(f"timer lateness with {pending} pending: p50 {late['p50_s']} s, p99 {late['p99_s']} s "
              f"({late['fired']}/{due_count} fired; goal p99 <= 2 s)")
        print(f"written to {path}")


async def compare_replicas(pending: int, most: int, rounds: int, due_count: int, window: float,
                           horizon_days: float) -> bool:
    """Measure lateness with 1..most timer processes sharing `pending` clocks; return True if no step fired twice."""
    async with fresh_wheel() as (name, db, docstore, store, policy, updater, base):
        print(f"storing {pending} pending clocks due within {horizon_days:g} days ...", flush=True)
        await fill(store, base, pending, timedelta(days=horizon_days), random.Random(7))
        print(f"waited {await settle(docstore_pid())} s for the database to settle", flush=True)
        figures = await timer_replicas.compare(store, base, policy, name, MONGO, most, rounds, due_count, window)
        result = {"server": "docstore (FerretDB/SQLite)" if docstore else "MongoDB", "pending": pending,
                  "horizon_days": horizon_days, **figures}
        path = save(f"timers-{most}-replicas", result)
        duplicates = timer_replicas.report(figures["summary"])
        print(f"written to {path}")
        return not duplicates


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=200, help="steps that fall due during the run")
    parser.add_argument("--window", type=float, default=20.0, help="seconds over which they fall due")
    parser.add_argument("--horizon-days", type=float, default=1.0, help="pending clocks fall due within this")
    parser.add_argument("--baseline-scan", action="store_true",
                        help="also time the indexed collection query (slow on the docstore: a full scan)")
    parser.add_argument("--replicas", type=int, default=1, choices=range(1, 9),
                        help="compare 1..N timer processes on one wheel (N > 1; the due-query figures are skipped)")
    parser.add_argument("--rounds", type=int, default=3, help="with --replicas: rounds of each count, alternating")
    args = parser.parse_args()
    if args.replicas > 1:
        raise SystemExit(0 if asyncio.run(compare_replicas(args.pending, args.replicas, args.rounds, args.due,
                                                           args.window, args.horizon_days)) else 1)
    asyncio.run(main(args.pending, args.small, args.due, args.window, args.horizon_days, args.baseline_scan))
