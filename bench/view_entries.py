"""How a view document's entries are stored decides what each write costs on the docstore.

    python -m bench.view_entries [--entries 64] [--writes 200]

A shelf of ticket summaries (each as services/intake/domain/views.py projects it, with both SLA
clocks) is stored two ways in the same run: every summary as nested fields, and every summary
packed as one BSON value (services/intake/adapters/views.py). Then the same `$set` of one entry
and the same read by `_id` are timed on each; the ratio is packed against nested.
It also times a ticket's compare-and-set write with a timeline of `--timeline` entries, nested
(as tickets are stored today) and packed (not done yet: what packing the timeline would save).
Writes bench/results/view-entries.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from pymongo import MongoClient

from bench.harness import MONGO, percentile, save
from services.intake.adapters.views import packed, packed_document
from services.intake.domain.views import with_clocks
from shared.ids import new_id


def ticket(n: int, now: datetime) -> dict[str, Any]:
    """Return a triaged ticket with running response and resolution clocks, as stored."""
    clock = {"state": "running", "gen": 1, "business": True, "budget_seconds": 14400.0, "anchor_at": now,
             "remaining_seconds": 14400.0, "due_at": now + timedelta(hours=4), "paused_seconds": 0.0,
             "allowance": {"hours": 4, "business": True}}
    return {"_id": new_id(now), "number": f"INC-{n:06d}", "title": "Checkout is slow for some users",
            "kind": "incident", "type": "performance", "status": "open", "severity": "high",
            "reported_severity": "medium", "tier": 1, "team": "technical-support", "assignee": None,
            "reporter": {"id": "u-123456", "name": "Bench Reporter"}, "created_at": now, "rev": 3,
            "sla": {"clocks": {"response": clock, "resolution": dict(clock)}}}


def timed(action, times: int) -> list[float]:
    """Return the milliseconds each of `times` calls of action took."""
    found = []
    for i in range(times):
        started = time.perf_counter()
        action(i)
        found.append((time.perf_counter() - started) * 1000)
    return found


def timeline_entry(seq: int, now: datetime) -> dict[str, Any]:
    """Return a timeline entry as intake writes a status change."""
    return {"seq": seq, "at": now, "kind": "status_changed", "public": True, "from": "open", "to": "in_progress",
            "actor": {"type": "agent", "id": "a1", "name": "Ann Agent"}, "text": "Taking this: looking at it now"}


def ticket_writes(db: Any, entries: int, writes: int, now: datetime) -> dict[str, Any]:
    """Return the time of a ticket's compare-and-set with one timeline entry pushed, nested against packed."""
    found: dict[str, Any] = {}
    for label, pack in (("nested", lambda e: e), ("packed", lambda e: bson.Binary(bson.encode(e)))):
        collection = db[f"ticket_{label}"]
        collection.insert_one({"_id": "t", "rev": 0, "status": "open", "title": "Checkout is slow",
                               "timeline": [pack(timeline_entry(n, now)) for n in range(entries)]})

        def write(i: int, collection=collection, pack=pack) -> None:
            collection.find_one_and_update({"_id": "t", "rev": i}, {"$set": {"rev": i + 1},
                                                                    "$push": {"timeline": pack(timeline_entry(i, now))}})
            collection.update_one({"_id": "t"}, {"$pop": {"timeline": -1}})  # the timeline stays `entries` long

        found[label] = figures(timed(write, writes))
    found["ratio_packed_to_nested"] = round(found["packed"]["p50_ms"] / found["nested"]["p50_ms"], 3)
    return found


def figures(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 0.95), 2)}


def main(entries: int, writes: int, timeline: int) -> None:
    now = datetime.now(UTC)
    tickets = [ticket(n, now) for n in range(entries)]
    shelf = {"entries": {t["_id"]: with_clocks(t) for t in tickets}}
    result: dict[str, Any] = {"server": MONGO, "entries": entries, "writes": writes}
    with MongoClient(MONGO, tz_aware=True) as client:
        db = client[f"bench_view_entries_{new_id(now).lower()}"]
        try:
            for label, document, change in (
                    ("nested", shelf, lambda u: u),
                    ("packed", packed_document(shelf), packed)):
                collection = db[label]
                collection.insert_one({"_id": "shelf", **document})

                def write(i: int, collection=collection, change=change) -> None:
                    target = tickets[i % entries]
                    collection.update_one({"_id": "shelf"},
                                          change({"$set": {f"entries.{target['_id']}": with_clocks(target)}}))

                result[label] = {"bytes": len(bson.encode(collection.find_one({"_id": "shelf"}))),
                                 "update": figures(timed(write, writes)),
                                 "read": figures(timed(lambda _, c=collection: c.find_one({"_id": "shelf"}),
                                                       max(20, writes // 2)))}
            result["ticket_timeline"] = {"entries": timeline, **ticket_writes(db, timeline, writes, now)}
        finally:
            client.drop_database(db.name)
    result["ratio_packed_to_nested"] = {
        kind: round(result["packed"][kind]["p50_ms"] / result["nested"][kind]["p50_ms"], 3) for kind in ("update", "read")}
    path = save("view-entries", result)
    for label in ("nested", "packed"):
        print(f"{label:7} {result[label]['bytes']:>7} bytes  update p50 {result[label]['update']['p50_ms']:>8} ms"
              f"  read p50 {result[label]['read']['p50_ms']:>7} ms")
    print(f"packed / nested: update {result['ratio_packed_to_nested']['update']}, "
          f"read {result['ratio_packed_to_nested']['read']}")
    line = result["ticket_timeline"]
    print(f"ticket with {timeline} timeline entries, compare-and-set + push: nested {line['nested']['p50_ms']} ms, "
          f"packed {line['packed']['p50_ms']} ms (ratio {line['ratio_packed_to_nested']})\nwritten to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=64)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--timeline", type=int, default=12, help="timeline entries of the ticket written")
    args = parser.parse_args()
    main(args.entries, args.writes, args.timeline)
