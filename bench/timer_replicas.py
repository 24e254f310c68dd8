"""Timer lateness with several escalation replicas: N timer loops, each in its own process, on one timing wheel.

    python -m bench.timers --replicas 2        (the entry point; it runs 1 replica and then 2 on the same data)

Each replica is a separate Python process (`python -m bench.timer_replicas --db ...`) with its own
database client, its own `MongoClocks` and the real `TimerLoop` under its own owner name, as two
escalation processes would run: nothing is shared but the database. The parent stores clocks whose
first SLA warning falls due at a known instant (spread over the window), and every replica writes a
line for each clock it fired: which steps, and when the firing write had been stored. From those
lines come the lateness of every due step and the duplicates (a step fired by two replicas, or twice by
one). The clocks' own `fired` lists are checked for repeats as well.

Rounds of 1 and of 2 processes alternate (1, 2, 2, 1, ...) so that a change in the machine's other
load falls on both alike; the figures are those of the median round (by p99) of each count, and every
round's are saved. A round starts once the previous round's lease entries (scheduled at each claim,
LEASE later) have fallen due, and each round's first pass clears them before its clocks are stored.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import ROOT, percentile
from services.escalation.adapters import clocks
from services.escalation.adapters.policy_file import load_policy
from services.escalation.domain.policy import EscalationPolicy
from services.escalation.domain.timers import pending
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.clock import SystemClock
from shared.ids import new_id
from shared.persistence import make_client
from shared.sla.config import load_service_levels

READY = "ready"
DRAIN_SECONDS = 60
"""How long after the last due instant the replicas may take to fire what is left."""
LEASE = timedelta(seconds=30)
"""The replicas' lease on a claimed clock (escalation's default TIMER_LEASE_SECONDS)."""
LEAD_SECONDS = 5
"""How far ahead of the first due instant a round's clocks are stored."""


def load() -> list[float]:
    """Return the machine's load average over 1, 5 and 15 minutes."""
    return [round(value, 2) for value in os.getloadavg()]


def due_copy(base: dict[str, Any], due: datetime, policy: EscalationPolicy) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of the clock record whose first SLA step falls due at `due`, and the keys due then.

    Only the resolution clock is kept (the page's repeat and the response clock's steps are minutes
    apart), and its anchor moves so that its first warning lands on `due`; its next step is more than
    an hour later, so clocks of earlier rounds stay quiet while later rounds run.
    """
    document = copy.deepcopy(base)
    document.update(_id=new_id(), page=None, outbox=[], fired=[], applied_events=[], updated_at=datetime.now(UTC),
                    clocks={"resolution": document["clocks"]["resolution"]})
    first = pending(document, policy)[0][0]
    shift = due - first
    for clock in document["clocks"].values():
        for field in ("anchor_at", "due_at"):
            if isinstance(clock.get(field), datetime):
                clock[field] += shift
    steps = pending(document, policy)
    document["next_due_at"] = steps[0][0]
    return document, [key for at, key in steps if at <= steps[0][0]]


async def replica(db_name: str, mongo_url: str, out: Path, owner: str, poll_seconds: float, delay: float,
                  parent: int) -> None:
    """Run one timer loop (its first pass after `delay` s) until SIGTERM or until the parent process is gone,
    appending a JSON line to `out` per fire."""
    await asyncio.sleep(delay)
    client = make_client(mongo_url)
    store = clocks.MongoClocks(client[db_name])
    updater = ClockUpdater(store, load_policy(load_service_levels()), SystemClock())
    fire = updater.fire
    with out.open("a", buffering=1) as lines:

        async def recorded_fire(ticket_id: str, holder: str, lease: timedelta) -> list[str]:
            keys = await fire(ticket_id, holder, lease)
            lines.write(json.dumps({"ticket": ticket_id, "keys": keys, "at": time.time()}) + "\n")
            return keys

        updater.fire = recorded_fire  # type: ignore[method-assign]
        loop = TimerLoop(updater, store, SystemClock(), poll_seconds=poll_seconds, lease=LEASE, owner=owner)
        await loop.run_once()
        lines.write(json.dumps({READY: owner}) + "\n")
        task = asyncio.create_task(loop.run())
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

        async def orphaned() -> None:
            while os.getppid() == parent:
                await asyncio.sleep(1)
            task.cancel()

        watchdog = asyncio.create_task(orphaned())
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            watchdog.cancel()
            await client.close()


def spawn(db_name: str, mongo_url: str, count: int, directory: Path, poll_seconds: float,
          rng: random.Random) -> list[tuple[subprocess.Popen, Path]]:
    """Start `count` replica processes and return (process, its output file) once each has made a pass.

    Replicas after the first begin polling at a random point of the poll interval, as processes
    started independently do (started together, their passes would coincide for a long while).
    """
    started = []
    for n in range(1, count + 1):
        delay = 0.0 if n == 1 else rng.uniform(0, poll_seconds)
        out = directory / f"replica-{count}-{n}-{new_id()[-6:]}.jsonl"
        out.touch()
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.timer_replicas", "--db", db_name, "--mongo", mongo_url, "--out", str(out),
             "--owner", f"replica-{n}-of-{count}", "--poll", str(poll_seconds), "--delay", f"{delay:.3f}",
             "--parent", str(os.getpid())],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(out.with_suffix(".log"), "ab"))  # noqa: SIM115
        started.append((process, out))
    deadline = time.monotonic() + 120
    for process, out in started:
        while READY not in out.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                stop(started)
                raise RuntimeError(f"a timer replica did not start: {out.with_suffix('.log').read_text()[-2000:]}")
            time.sleep(0.1)
    return started


def stop(replicas: list[tuple[subprocess.Popen, Path]]) -> None:
    """Stop every replica process (SIGTERM, then SIGKILL after 15 s)."""
    for process, _ in replicas:
        if process.poll() is None:
            process.terminate()
    for process, _ in replicas:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def records(replicas: list[tuple[subprocess.Popen, Path]]) -> list[dict[str, Any]]:
    """Return every fire record the replicas wrote, each with the replica's number as `replica`."""
    found = []
    for n, (_, out) in enumerate(replicas, start=1):
        for line in out.read_text().splitlines():
            record = json.loads(line)
            if READY not in record:
                found.append({**record, "replica": n})
    return found


async def run_round(store: clocks.MongoClocks, base: dict[str, Any], policy: EscalationPolicy, db_name: str,
                    mongo_url: str, count: int, due_count: int, window: float, directory: Path, rng: random.Random,
                    poll_seconds: float = 1.0) -> dict[str, Any]:
    """Fire due_count due clocks with `count` replica processes; return lateness, duplicates and shares."""
    load_before = load()
    replicas = await asyncio.to_thread(spawn, db_name, mongo_url, count, directory, poll_seconds, rng)
    try:
        start = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        documents, expected = [], {}
        for i in range(due_count):
            document, keys = due_copy(base, start + timedelta(seconds=window * i / due_count), policy)
            documents.append(document)
            expected.update({(document["_id"], key): document["next_due_at"] for key in keys})
        await store_all(store, documents)
        stored_ahead = (start - datetime.now(UTC)).total_seconds()
        deadline = time.monotonic() + stored_ahead + window + DRAIN_SECONDS
        while time.monotonic() < deadline:
            fired = {(r["ticket"], key) for r in records(replicas) for key in r["keys"]}
            if set(expected) <= fired:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2 * poll_seconds)  # a late second firing would show now
    finally:
        await asyncio.to_thread(stop, replicas)
    figures = await summarise(store, expected, records(replicas), count, load_before)
    figures["stored_ahead_of_first_due_s"] = round(stored_ahead, 2)
    if stored_ahead <= 0:
        print(f"!! the round's clocks were stored {-stored_ahead:.1f} s after the first fell due: its lateness "
              "measures the database's backlog, not the timer loops", flush=True)
    return figures


async def store_all(store: clocks.MongoClocks, documents: list[dict[str, Any]]) -> None:
    """Store clock records as escalation's store does (scheduled first, then inserted), in a few commands."""
    now = datetime.now(UTC)
    await store.schedule.add_many([(d["_id"], d["next_due_at"]) for d in documents], now)
    for offset in range(0, len(documents), 1000):
        await store.collection.insert_many(documents[offset:offset + 1000])


def tally(expected: dict[tuple[str, str], datetime], fires: list[dict[str, Any]]) -> dict[str, Any]:
    """Return lateness percentiles, what fired, what did not and what fired more than once, from fire records.

    A step's lateness is that of its first firing; every further firing of it counts as a duplicate.
    """
    fired_by = Counter((r["ticket"], key) for r in fires for key in r["keys"])
    duplicates = sorted(step for step, n in fired_by.items() if n > 1 and step in expected)
    first_fire: dict[tuple[str, str], float] = {}
    for r in sorted(fires, key=lambda r: r["at"]):
        for key in r["keys"]:
            first_fire.setdefault((r["ticket"], key), r["at"])
    late = [first_fire[step] - due.timestamp() for step, due in expected.items() if step in first_fire]
    tickets = {ticket for ticket, _ in expected}
    ours = [r for r in fires if r["ticket"] in tickets]
    replicas = sorted({r["replica"] for r in ours})
    return {"due_steps": len(expected), "fired": len(first_fire.keys() & expected.keys()),
            "not_fired": len(expected.keys() - first_fire.keys()),
            "duplicates": sum(fired_by[step] - 1 for step in duplicates),
            "duplicate_steps": [list(step) for step in duplicates[:20]],
            "p50_s": round(percentile(late, 0.5), 3), "p99_s": round(percentile(late, 0.99), 3),
            "max_s": round(max(late), 3) if late else None,
            "steps_fired_per_replica": {str(n): sum(len(r["keys"]) for r in ours if r["replica"] == n)
                                        for n in replicas},
            "attempts_that_fired_nothing": sum(1 for r in ours if not r["keys"])}


async def summarise(store: clocks.MongoClocks, expected: dict[tuple[str, str], datetime],
                    fires: list[dict[str, Any]], count: int, load_before: list[float]) -> dict[str, Any]:
    """Return the figures of one round: the tally of the replicas' records and repeats in the clocks as stored."""
    repeats_stored = 0
    for ticket in {ticket for ticket, _ in expected}:
        document = await store.get(ticket)
        steps = Counter(document.get("fired", []) if document else [])
        repeats_stored += sum(n - 1 for n in steps.values() if n > 1)
    return {"replicas": count, **tally(expected, fires), "repeats_in_stored_fired_lists": repeats_stored,
            "load_before": load_before, "load_after": load()}


def pooled(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the totals of several rounds with the same replica count (percentiles: the median round's)."""
    ordered = sorted(rounds, key=lambda r: r["p99_s"])
    middle = ordered[len(ordered) // 2]
    return {"rounds": len(rounds), "due_steps": sum(r["due_steps"] for r in rounds),
            "fired": sum(r["fired"] for r in rounds), "not_fired": sum(r["not_fired"] for r in rounds),
            "duplicates": sum(r["duplicates"] for r in rounds),
            "repeats_in_stored_fired_lists": sum(r["repeats_in_stored_fired_lists"] for r in rounds),
            "p50_s_per_round": [r["p50_s"] for r in rounds], "p99_s_per_round": [r["p99_s"] for r in rounds],
            "p50_s": middle["p50_s"], "p99_s": middle["p99_s"]}


def order_of_rounds(most: int, rounds: int) -> list[int]:
    """Return the replica counts to run, 1..most then back down, alternating so drift in load hits both alike."""
    up = list(range(1, most + 1))
    return [count for n in range(rounds) for count in (up if n % 2 == 0 else up[::-1])]


async def compare(store: clocks.MongoClocks, base: dict[str, Any], policy: EscalationPolicy, db_name: str,
                  mongo_url: str, most: int, rounds: int, due_count: int, window: float) -> dict[str, Any]:
    """Run `rounds` rounds of 1..most replica processes; return the summary per count (ratios to 1) and every round."""
    results: dict[int, list[dict[str, Any]]] = {}
    phases = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="timer-replicas-") as directory:
        quiet_at = 0.0
        for count in order_of_rounds(most, rounds):
            # the last round's claims scheduled their leases' ends; let those fall due before this round
            await asyncio.sleep(max(0.0, quiet_at - time.monotonic()))
            print(f"{count} timer process(es): {due_count} steps due over {window:g} s ...", flush=True)
            figures = await run_round(store, base, policy, db_name, mongo_url, count, due_count, window,
                                      Path(directory), phases)
            quiet_at = time.monotonic() + LEASE.total_seconds() + 3
            results.setdefault(count, []).append(figures)
            print(f"  p50 {figures['p50_s']} s, p99 {figures['p99_s']} s, {figures['fired']}/{figures['due_steps']} "
                  f"fired, {figures['duplicates']} fired twice, per process {figures['steps_fired_per_replica']}, "
                  f"load {figures['load_before']} -> {figures['load_after']}", flush=True)
    summary = {str(count): pooled(found) for count, found in sorted(results.items())}
    one = summary["1"]
    for figures in summary.values():
        figures["p50_ratio_to_1"] = round(figures["p50_s"] / one["p50_s"], 2) if one["p50_s"] else None
        figures["p99_ratio_to_1"] = round(figures["p99_s"] / one["p99_s"], 2) if one["p99_s"] else None
    return {"replicas_are": "separate processes (python -m bench.timer_replicas), each with its own client "
                            "and the real TimerLoop, sharing only the database",
            "due_steps_per_round": due_count, "window_seconds": window, "poll_seconds": 1.0,
            "poll_phases": "replicas after the first start polling at a random point of the poll interval",
            "lateness": "time from a step's due instant until the write that fired it was stored",
            "summary": summary, "rounds": [r for found in results.values() for r in found]}


def report(summary: dict[str, dict[str, Any]]) -> int:
    """Print the summary (loudly if a step fired twice); return how many steps fired more than once."""
    for count, figures in summary.items():
        print(f"{count} process(es): p50 {figures['p50_s']} s (x{figures['p50_ratio_to_1']}), "
              f"p99 {figures['p99_s']} s (x{figures['p99_ratio_to_1']}), {figures['not_fired']} not fired, "
              f"{figures['duplicates']} fired twice, {figures['repeats_in_stored_fired_lists']} repeats stored")
    duplicates = sum(f["duplicates"] + f["repeats_in_stored_fired_lists"] for f in summary.values())
    if duplicates:
        print("\n" + "!" * 78 + f"\n!! {duplicates} SLA STEP FIRINGS BEYOND THE FIRST: a step fired more than once."
              "\n" + "!" * 78)
    return duplicates


def cli() -> None:
    parser = argparse.ArgumentParser(description="one timer replica (started by bench.timers --replicas)")
    parser.add_argument("--db", required=True)
    parser.add_argument("--mongo", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before the first pass")
    parser.add_argument("--parent", type=int, required=True, help="the process to outlive no longer than a second")
    args = parser.parse_args()
    asyncio.run(replica(args.db, args.mongo, args.out, args.owner, args.poll, args.delay, args.parent))


if __name__ == "__main__":
    cli()
