"""Concurrent writes to one document get MongoDB's answers, whatever MONGODB_URL points at.

FerretDB v1 alone loses most of them (it updates by read-modify-write); the docstore's write gate
(tools/docstore/gate.go) makes each write atomic. Each probe spreads 1,000 writes over 20 tasks.
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


async def test_every_acknowledged_compare_and_set_is_kept(db):
    probe = db["probe"]
    await probe.insert_one({"_id": "k", "v": 0})

    async def compare_and_set() -> int:
        v = (await probe.find_one({"_id": "k"}))["v"]
        result = await probe.update_one({"_id": "k", "v": v}, {"$set": {"v": v + 1}})
        assert result.modified_count == result.matched_count
        return result.matched_count  # no match: another task won this round; the next attempt retries

    wins = await _spread(compare_and_set)
    final = (await probe.find_one({"_id": "k"}))["v"]
    assert wins >= 1
    assert final == wins, f"{wins} compare-and-set writes acknowledged, {wins - final} of them lost"


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
