"""Group commit on the real docstore: a merged update stores what the updates one by one store, and the read
models written by many concurrent changes equal those written one at a time, in fewer commands."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from services.intake.adapters.views import MongoViews
from shared.update_merging import merged_update, upserts

pytestmark = pytest.mark.integration


def random_update(rng: random.Random) -> dict[str, dict[str, Any]]:
    """Return an update of the kinds the read models send, on a few shared paths."""
    update: dict[str, dict[str, Any]] = {}
    for entry in rng.sample(["a", "b", "c"], rng.randint(0, 2)):
        if rng.random() < 0.7:
            update.setdefault("$set", {})[f"entries.{entry}"] = {"status": rng.choice(["new", "open", "closed"])}
        else:
            update.setdefault("$unset", {})[f"entries.{entry}"] = ""
    if rng.random() < 0.5:
        update["$addToSet"] = {"ids": rng.choice(["t1", "t2", "t3"])}
    if rng.random() < 0.5:
        update["$min"] = {"shelves.s1.first": rng.randint(0, 50)}
    if rng.random() < 0.5:
        update["$max"] = {"shelves.s1.last": rng.randint(0, 50)}
    return update or {"$set": {"touched": True}}


def comparable(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a document without its id, its posting list as a set, and no emptied parent (readers take none as {})."""
    if document is None:
        return None
    found = {key: value for key, value in document.items() if key != "_id" and value != {}}
    if "ids" in found:
        found["ids"] = sorted(found["ids"])
    return found


async def test_a_merged_update_stores_what_its_updates_store_one_by_one(db):
    rng = random.Random(2026_12_01)
    for trial in range(25):
        sequence = [random_update(rng) for _ in range(rng.randint(2, 6))]
        for update in sequence:
            await db.views.update_one({"_id": f"one-by-one-{trial}"}, update, upsert=upserts(update))
        merged = sequence[0]
        for update in sequence[1:]:
            merged = merged_update(merged, update)
        await db.views.update_one({"_id": f"merged-{trial}"}, merged, upsert=upserts(merged))
        one_by_one = await db.views.find_one({"_id": f"one-by-one-{trial}"})
        assert comparable(await db.views.find_one({"_id": f"merged-{trial}"})) == comparable(one_by_one), sequence


async def test_many_concurrent_view_writes_store_what_they_store_one_at_a_time_in_fewer_commands(db):
    changes = [{f"shelf:{i % 3}": {"$set": {f"entries.t{i}": {"n": i}}}, "open:0": {"$set": {f"entries.t{i}": i}},
                "word:x": {"$addToSet": {"ids": f"t{i}"}}} for i in range(40)]
    changes += [{"open:0": {"$unset": {f"entries.t{i}": ""}}} for i in range(0, 40, 4)]
    concurrent = MongoViews(db)
    await asyncio.gather(*(concurrent.apply(change) for change in changes))
    concurrent_documents = {doc_id: comparable(document)
                            for doc_id, document in (await concurrent.documents(
                                ["shelf:0", "shelf:1", "shelf:2", "open:0", "word:x"])).items()}
    await db.ticket_views.drop()
    one_at_a_time = MongoViews(db)
    for change in changes:
        await one_at_a_time.apply(change)
    sequential_documents = {doc_id: comparable(document)
                            for doc_id, document in (await one_at_a_time.documents(
                                ["shelf:0", "shelf:1", "shelf:2", "open:0", "word:x"])).items()}
    assert concurrent_documents == sequential_documents
    assert len(concurrent_documents["open:0"]["entries"]) == 30
    assert concurrent._commits.writes < len(changes) / 4, "what waited went out together"
    assert one_at_a_time._commits.writes == len(changes)


async def test_a_bulk_update_of_many_existing_documents_completes_and_leaves_the_store_writable(mongodb_url, db_name):
    # FerretDB v1 hangs, and with it every later write, on an update command of 100 statements that
    # find documents; the docstore's gate has drivers split such batches (tools/docstore/batches.go)
    from pymongo import AsyncMongoClient, UpdateOne

    client = AsyncMongoClient(mongodb_url, socketTimeoutMS=20_000)
    try:
        views = client[db_name]["many"]
        await views.insert_many([{"_id": f"d{i}", "ids": []} for i in range(150)])
        result = await views.bulk_write([UpdateOne({"_id": f"d{i}"}, {"$addToSet": {"ids": "t1"}}) for i in range(150)])
        assert result.modified_count == 150
        await views.insert_one({"_id": "after"})
        assert await views.count_documents({"ids": "t1"}) == 150
    finally:
        await client.drop_database(db_name)
        await client.close()
