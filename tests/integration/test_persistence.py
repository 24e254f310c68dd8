"""Persistence pieces against a real MongoDB-protocol server."""

import asyncio

import pytest

from services.intake.adapters import api_keys, tickets
from services.intake.domain.principals import Role
from services.intake.domain.tickets import new_ticket_document
from shared.clock import SystemClock
from shared.persistence import ensure_indexes

pytestmark = pytest.mark.integration


async def test_ticket_sequence_never_repeats_under_concurrency(db):
    store = tickets.MongoTickets(db)
    await ensure_indexes(db, tickets.INDEXES)
    numbers = await asyncio.gather(*(store.next_sequence() for _ in range(50)))
    assert sorted(numbers) == list(range(1, 51))


async def test_counter_is_atomic_across_processes(db):
    stores = [tickets.MongoTickets(db) for _ in range(10)]  # as separate replicas: nothing shared but the database
    numbers = await asyncio.gather(*(store.next_sequence() for store in stores for _ in range(5)))
    assert sorted(numbers) == list(range(1, 51))


async def test_duplicate_ticket_number_is_refused(db):
    from pymongo.errors import DuplicateKeyError

    await ensure_indexes(db, tickets.INDEXES)
    store = tickets.MongoTickets(db)

    def ticket(ticket_id: str) -> dict:
        return new_ticket_document(ticket_id=ticket_id, number="INC-000001", fields={"title": "Export fails"},
                                   reporter={"id": "r1", "name": "Ada"}, now=SystemClock().now(), outbox=[])

    await store.insert(ticket("a"))
    with pytest.raises(DuplicateKeyError):
        await store.insert(ticket("b"))


async def test_api_keys_are_stored_hashed_and_authenticate(db):
    keys = api_keys.MongoApiKeys(db)
    key, principal = await keys.create(Role.AGENT, "Ann", "ann@example.com", SystemClock().now())
    stored = await db[api_keys.COLLECTION].find_one({})
    assert key not in str(stored)
    assert await keys.authenticate(key) == principal
    assert await keys.authenticate(key + "x") is None


async def test_a_lookup_by_id_uses_an_index_not_a_scan(db):
    """On the docstore the _id filter only uses an index the docstore adds (tools/docstore/idindex.go)."""
    collection = db["lookups"]
    await collection.insert_many([{"_id": f"doc-{n}", "n": n} for n in range(50)])
    plan = ""
    for _ in range(100):  # the docstore indexes new collections within about a second
        # a real query first: SQLite connections notice a new index only when they next read the
        # table, and EXPLAIN alone does not read it
        await collection.find_one({"_id": "missing"})
        explained = await db.command({"explain": {"find": "lookups", "filter": {"_id": "missing"}}})
        plan = str(explained.get("queryPlanner"))
        if "USING INDEX" in plan or "IDHACK" in plan or "IXSCAN" in plan:
            break
        await asyncio.sleep(0.1)
    assert "COLLSCAN" not in plan and "detail=SCAN" not in plan, plan
    assert "USING INDEX" in plan or "IDHACK" in plan or "IXSCAN" in plan, plan
