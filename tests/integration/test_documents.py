"""Guarded updates against the real server: concurrent writers to one document lose nothing.

The writers share nothing but the database, as tasks of different replicas would.
"""

import asyncio

import pytest

from shared.documents import guarded_update

pytestmark = pytest.mark.integration


async def test_concurrent_guarded_updates_of_one_document_all_land(db):
    await db.docs.insert_one({"_id": "t1", "applied": [], "outbox": [{"event_id": f"e{i}"} for i in range(10)], "rev": 0})

    async def apply(i: int) -> bool:
        return await guarded_update(db.docs, "t1", {"applied": {"$ne": i}}, {"$push": {"applied": i}})

    async def pop(i: int) -> bool:
        return await guarded_update(db.docs, "t1", {"outbox.0.event_id": f"e{i}"}, {"$pop": {"outbox": -1}})

    results = await asyncio.gather(*(apply(i) for i in range(30)), *(pop(i) for i in range(10)))
    document = await db.docs.find_one({"_id": "t1"})
    assert sorted(document["applied"]) == list(range(30))
    assert document["rev"] == 30 + sum(results[30:])
    assert all(results[:30])


async def test_guarded_update_reports_an_unmet_condition_and_a_missing_document(db):
    await db.docs.insert_one({"_id": "t1", "applied": ["x"]})
    assert await guarded_update(db.docs, "t1", {"applied": {"$ne": "x"}}, {"$push": {"applied": "x"}}) is False
    with pytest.raises(LookupError):
        await guarded_update(db.docs, "nope", {}, {"$set": {"a": 1}})


async def test_an_update_computed_from_the_current_document_loses_no_concurrent_write(db):
    await db.things.insert_one({"_id": "t", "recent": [], "rev": 0})

    def keep_three(n: int):
        return lambda current: {"$set": {"recent": [*current["recent"], n][-3:]}}

    await asyncio.gather(*(guarded_update(db.things, "t", {}, keep_three(n)) for n in range(10)))
    document = await db.things.find_one({"_id": "t"})
    assert len(document["recent"]) == 3 and document["rev"] == 10
