"""Concurrent writes to one document get MongoDB's answers, whatever MONGODB_URL points at.

FerretDB v1 alone loses most of them (it updates by read-modify-write); the docstore's write gate
(tools/docstore/gate.go) makes each write atomic, and checks a conditional write by `_id` together
with the write (tools/docstore/guarded.go). Each concurrent probe spreads 1,000 writes over 20 tasks.
"""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration

TASKS = 20
WRITES = 1000


async def _spread(write: Callable[[], Awaitable[int]]) -> int:
    """Run WRITES calls of write over TASKS concurrent tasks; return the sum of what they returned."""
    async def task() -> int:
        total = 0
        for _ in range(WRITES // TASKS):
            total += await write()
        return total

    return sum(await asyncio.gather(*(task() for _ in range(TASKS))))


async def test_concurrent_find_one_and_update_inc_loses_no_increment(db):
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "n": 0})

    async def increment() -> int:
        return int(await probe.find_one_and_update({"_id": "k"}, {"$inc": {"n": 1}}) is not None)

    acknowledged = await _spread(increment)
    n = (await probe.find_one({"_id": "k"}))["n"]
    assert acknowledged == WRITES
    assert n == WRITES, f"{WRITES - n} of {WRITES} acknowledged increments lost"


async def test_concurrent_update_one_inc_loses_no_increment(db):
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "n": 0})

    async def increment() -> int:
        return (await probe.update_one({"_id": "k"}, {"$inc": {"n": 1}})).modified_count

    acknowledged = await _spread(increment)
    n = (await probe.find_one({"_id": "k"}))["n"]
    assert acknowledged == WRITES
    assert n == WRITES, f"{WRITES - n} of {WRITES} acknowledged increments lost"


async def _compare_and_set_with_update_one(probe, v: int) -> int:
    result = await probe.update_one({"_id": "k", "v": v}, {"$set": {"v": v + 1}})
    assert result.modified_count == result.matched_count
    return result.matched_count


async def _compare_and_set_with_find_one_and_update(probe, v: int) -> int:
    return int(await probe.find_one_and_update({"_id": "k", "v": v}, {"$set": {"v": v + 1}}) is not None)


@pytest.mark.parametrize(
    "compare_and_set", [_compare_and_set_with_update_one, _compare_and_set_with_find_one_and_update],
    ids=["update_one", "find_one_and_update"],
)
async def test_every_acknowledged_compare_and_set_is_kept(db, compare_and_set):
    """The condition and the write are one command: the docstore's gate checks `v` and writes atomically."""
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "v": 0})

    async def attempt() -> int:
        v = (await probe.find_one({"_id": "k"}))["v"]
        return await compare_and_set(probe, v)  # no match: another task won this round; the next attempt retries

    wins = await _spread(attempt)
    final = (await probe.find_one({"_id": "k"}))["v"]
    assert wins >= 1
    assert final == wins, f"{wins} compare-and-set writes acknowledged, {wins - final} of them lost"


async def test_a_condition_that_does_not_hold_changes_nothing(db):
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "v": 1, "tags": ["a"]})
    before = await probe.find_one({"_id": "k"})

    updated = await probe.update_one({"_id": "k", "v": 2}, {"$set": {"v": 99}})
    found = await probe.find_one_and_update({"_id": "k", "tags": {"$ne": "a"}}, {"$set": {"v": 99}})
    removed = await probe.find_one_and_delete({"_id": "k", "v": {"$gt": 1}})
    deleted = await probe.delete_one({"_id": "k", "v": {"$in": [0, 2]}})
    missing = await probe.update_one({"_id": "absent", "v": 1}, {"$set": {"v": 99}})

    assert (updated.matched_count, updated.modified_count, updated.upserted_id) == (0, 0, None)
    assert found is None and removed is None
    assert deleted.deleted_count == 0
    assert (missing.matched_count, missing.upserted_id) == (0, None)
    assert await probe.find_one({"_id": "k"}) == before
    assert await probe.count_documents({}) == 1


async def test_an_event_guarded_by_ne_on_an_array_is_applied_once(db):
    """The idempotency pattern: `applied_events: {$ne: event_id}` lets one of many concurrent deliveries through."""
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "applied_events": ["older"], "n": 0})

    async def apply() -> int:
        result = await probe.update_one({"_id": "k", "applied_events": {"$ne": "evt-1"}},
                                        {"$push": {"applied_events": "evt-1"}, "$inc": {"n": 1}})
        return result.modified_count

    applied = await _spread(apply)
    document = await probe.find_one({"_id": "k"})
    assert applied == 1
    assert document["n"] == 1
    assert document["applied_events"] == ["older", "evt-1"]


async def test_one_insert_wins_a_unique_index_race(db):
    probe = db["probe"]
    await probe.create_index("key", unique=True)

    outcomes = await asyncio.gather(
        *(probe.insert_one({"_id": f"doc-{n}", "key": "same"}) for n in range(TASKS)), return_exceptions=True,
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert all(isinstance(outcome, DuplicateKeyError) for outcome in refused), refused
    assert len(refused) == TASKS - 1
    assert await probe.count_documents({}) == 1
