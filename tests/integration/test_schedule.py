"""The timing wheel on the real docstore: due entries come back once handled, none is lost, old buckets go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.schedule import COLLECTION, Schedule

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def wheel(db, **kwargs) -> Schedule:
    return Schedule(db, "timers", **kwargs)


async def test_returns_only_what_is_due_earliest_first(db) -> None:
    schedule = wheel(db)
    await schedule.add("late", T0 + timedelta(minutes=5), T0)
    await schedule.add("soon", T0 + timedelta(seconds=3), T0)
    await schedule.add("sooner", T0 + timedelta(seconds=1), T0)

    assert [e.key for e in await schedule.due(T0, 10)] == []
    assert [e.key for e in await schedule.due(T0 + timedelta(seconds=4), 10)] == ["sooner", "soon"]
    assert [e.key for e in await schedule.due(T0 + timedelta(minutes=6), 10)] == ["sooner", "soon", "late"]


async def test_a_key_with_many_entries_does_not_hide_the_others_from_a_batch(db) -> None:
    # the timer loop stops when a batch brings fewer keys than it asked for: a batch cut at `limit`
    # entries, all of one key, made it stop with other clocks still due (until the next poll, or never
    # in a pass that was the last)
    schedule = wheel(db)
    await schedule.add_many([("busy", T0 + timedelta(seconds=n)) for n in range(1, 6)], T0)
    await schedule.add("quiet", T0 + timedelta(seconds=7), T0)

    now = T0 + timedelta(seconds=30)
    assert await schedule.due_keys(now, 2) == ["busy", "quiet"]
    assert [e.key for e in await schedule.due(now, 1)] == ["busy"] * 5, "every due entry of a key it names"


async def test_entries_stay_until_done(db) -> None:
    schedule = wheel(db)
    await schedule.add("a", T0 + timedelta(seconds=1), T0)
    await schedule.add("b", T0 + timedelta(seconds=2), T0)
    now = T0 + timedelta(seconds=30)

    first = await schedule.due(now, 10)
    assert [e.key for e in await schedule.due(now, 10)] == ["a", "b"]  # not handled yet: still due
    await schedule.done(first[:1])
    assert [e.key for e in await schedule.due(now, 10)] == ["b"]
    await schedule.done(first)  # removing twice is harmless
    assert await schedule.due(now, 10) == []


async def test_an_entry_in_the_past_goes_into_the_current_bucket(db) -> None:
    schedule = wheel(db)
    now = T0 + timedelta(hours=1)
    await schedule.add("overdue", T0, now)
    due = await schedule.due(now, 10)
    assert [(e.key, e.at) for e in due] == [("overdue", now)]


async def test_a_fresh_process_finds_entries_written_by_another(db) -> None:
    await wheel(db).add("x", T0 + timedelta(days=3), T0)
    later = wheel(db)  # a restart: no memory of the first
    assert [e.key for e in await later.due(T0 + timedelta(days=3, seconds=1), 10)] == ["x"]


async def test_many_entries_in_one_bucket_spill_over_pages_and_respect_the_limit(db) -> None:
    schedule = wheel(db, page_size=50)
    await schedule.add_many([(f"k{i:03d}", T0 + timedelta(seconds=5)) for i in range(180)], T0)
    pages = await db[COLLECTION].count_documents({"_id": {"$regex": "^timers:[0-9]+:"}})
    assert pages == 4
    now = T0 + timedelta(seconds=6)
    handled: list[str] = []
    while due := await schedule.due(now, 64):
        assert len(due) <= 64
        handled += [e.key for e in due]
        await schedule.done(due)
    assert sorted(handled) == [f"k{i:03d}" for i in range(180)]


async def test_settled_empty_buckets_are_deleted_and_the_floor_moves_up(db) -> None:
    schedule = wheel(db, grace_seconds=60)
    for minute in range(5):
        await schedule.add(f"m{minute}", T0 + timedelta(minutes=minute), T0)
    now = T0 + timedelta(minutes=10)
    await schedule.done(await schedule.due(now, 100))
    await schedule.due(now, 100)  # this pass finds the buckets empty and deletes them
    remaining = await db[COLLECTION].find({}, {"_id": 1}).to_list()
    assert [d["_id"] for d in remaining] == ["timers:floor"]
    floor = await db[COLLECTION].find_one({"_id": "timers:floor"})
    assert floor["bucket"] > int(T0.timestamp()) // 10 + 4 * 6


async def test_an_add_after_the_floor_moved_is_still_found(db) -> None:
    schedule = wheel(db)
    await schedule.add("first", T0, T0)
    now = T0 + timedelta(hours=2)
    await schedule.done(await schedule.due(now, 10))
    await schedule.due(now, 10)
    await schedule.add("second", now + timedelta(seconds=1), now)
    assert [e.key for e in await schedule.due(now + timedelta(seconds=2), 10)] == ["second"]


async def test_backfill_runs_once(db) -> None:
    schedule = wheel(db)

    async def documents():
        for i in range(3):
            yield f"old{i}", T0 + timedelta(seconds=i)

    assert await schedule.backfill_once(documents(), T0) == 3
    assert await schedule.backfill_once(documents(), T0) is None
    assert len(await schedule.due(T0 + timedelta(minutes=1), 10)) == 3
