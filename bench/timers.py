"""Timer benchmarks: how late due SLA steps fire with many timers pending, and what the due query costs.

    python -m bench.timers [--pending 100000] [--small 10000]

Builds clock documents the way escalation does (one real clock from ticket.triaged, copied with
new ids and due times), runs the real timer loop with the system clock, and measures how late each
due step was fired. Then times the due-timer query with `--small` versus `--pending` clocks stored.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.harness import MONGO, percentile, save
from shared.clock import SystemClock
from shared.contracts import make_envelope
from shared.ids import new_id
from shared.locks import KeyedLocks
from shared.persistence import ensure_indexes, is_docstore, make_client
from services.escalation.adapters import clocks
from services.escalation.adapters.policy_file import load_policy
from services.escalation.clockwork import Clockwork
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.handlers import handlers
from tests.factories import triaged

FAR = datetime(2100, 1, 1, tzinfo=UTC)


async def template(store: clocks.MongoClocks, clockwork: Clockwork) -> dict:
    """Return one real clock document, created by escalation's own handler."""
    event = triaged(reported_at=datetime.now(UTC))
    envelope = make_envelope(event, producer="bench", occurred_at=datetime.now(UTC), ticket_id=event.ticket_id)
    await handlers(clockwork)["ticket.triaged"](envelope, event)
    document = await store.get(event.ticket_id)
    await store.collection.delete_one({"_id": event.ticket_id})
    return document


async def fill(store: clocks.MongoClocks, base: dict, count: int, due: datetime) -> None:
    """Store `count` copies of the clock, all next due at `due`."""
    batch = []
    for _ in range(count):
        batch.append({**base, "_id": new_id(), "next_due_at": due, "outbox": [], "fired": list(base.get("fired", []))})
        if len(batch) == 1000:
            await store.collection.insert_many(batch)
            batch = []
    if batch:
        await store.collection.insert_many(batch)


async def query_cost(store: clocks.MongoClocks, repeats: int = 5) -> float:
    """Return the median seconds of one due-timer query (nothing due)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await store.due(datetime.now(UTC), 100)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def lateness(store: clocks.MongoClocks, clockwork: Clockwork, base: dict, due_count: int, window: float) -> dict:
    """Schedule due_count clocks over the next `window` seconds, run the real loop, return lateness figures."""
    start = datetime.now(UTC) + timedelta(seconds=2)
    scheduled: dict[str, datetime] = {}
    for i in range(due_count):
        ticket_id = new_id()
        due = start + timedelta(seconds=window * i / due_count)
        scheduled[ticket_id] = due
        await store.collection.insert_one({**base, "_id": ticket_id, "next_due_at": due, "outbox": []})
    late: list[float] = []
    original = clockwork.fire

    async def timed_fire(ticket_id: str, owner: str, lease: timedelta):
        if ticket_id in scheduled:
            late.append((datetime.now(UTC) - scheduled.pop(ticket_id)).total_seconds())
        return await original(ticket_id, owner, lease)

    clockwork.fire = timed_fire  # type: ignore[method-assign]
    loop = TimerLoop(clockwork, store, SystemClock(), poll_seconds=1.0)
    task = asyncio.create_task(loop.run())
    deadline = time.monotonic() + window + 120
    while scheduled and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    task.cancel()
    return {"due_steps": due_count, "fired": len(late), "not_fired": len(scheduled),
            "p50_s": round(percentile(late, 0.5), 3), "p99_s": round(percentile(late, 0.99), 3)}


async def main(pending: int, small: int, due_count: int, window: float) -> None:
    client = make_client(MONGO)
    name = f"bench_timers_{new_id().lower()[-8:]}"
    db = client[name]
    try:
        await ensure_indexes(db, clocks.INDEXES)
        locks = KeyedLocks(exclusive_writer=await is_docstore(db))
        store = clocks.MongoClocks(db, locks)
        clockwork = Clockwork(store, load_policy(None, None), SystemClock())
        base = await template(store, clockwork)
        print(f"storing {small} pending clocks ...", flush=True)
        await fill(store, base, small, FAR)
        small_cost = await query_cost(store)
        print(f"storing {pending - small} more ...", flush=True)
        await fill(store, base, pending - small, FAR)
        big_cost = await query_cost(store)
        print(f"firing {due_count} due steps with {pending} pending ...", flush=True)
        late = await lateness(store, clockwork, base, due_count, window)
        result = {"server": "docstore (FerretDB/SQLite)" if locks.exclusive_writer else "MongoDB",
                  "due_query_seconds": {str(small): round(small_cost, 4), str(pending): round(big_cost, 4),
                                        "ratio": round(big_cost / small_cost, 1)},
                  "lateness": {"pending": pending, **late}}
        path = save("timers", result)
        print(f"due-timer query: {small_cost * 1000:.1f} ms at {small} pending, {big_cost * 1000:.1f} ms at "
              f"{pending} (x{result['due_query_seconds']['ratio']}; goal <= 2x at 1,000,000 vs 10,000)")
        print(f"timer lateness with {pending} pending: p50 {late['p50_s']} s, p99 {late['p99_s']} s "
              f"({late['fired']}/{due_count} fired; goal p99 <= 2 s)")
        print(f"written to {path}")
    finally:
        await client.drop_database(name)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=200, help="steps that fall due during the run")
    parser.add_argument("--window", type=float, default=20.0, help="seconds over which they fall due")
    args = parser.parse_args()
    asyncio.run(main(args.pending, args.small, args.due, args.window))
