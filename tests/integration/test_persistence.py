"""Persistence pieces against a real MongoDB-protocol server."""

import asyncio

import pytest

from shared.clock import SystemClock
from shared.persistence import ensure_indexes
from services.intake.adapters import api_keys, tickets
from services.intake.domain.principals import Role

pytestmark = pytest.mark.integration


async def test_ticket_sequence_never_repeats_under_concurrency(db):
    store = tickets.MongoTickets(db)
    await ensure_indexes(db, tickets.INDEXES)
    numbers = await asyncio.gather(*(store.next_sequence() for _ in range(50)))
    assert sorted(numbers) == list(range(1, 51))


async def test_counter_is_atomic_across_processes_on_real_mongodb(db, require_real_mongodb):
    stores = [tickets.MongoTickets(db) for _ in range(10)]  # separate locks, as separate replicas
    numbers = await asyncio.gather(*(store.next_sequence() for store in stores for _ in range(5)))
    assert sorted(numbers) == list(range(1, 51))


async def test_duplicate_ticket_number_is_refused(db):
    from pymongo.errors import DuplicateKeyError

    await ensure_indexes(db, tickets.INDEXES)
    store = tickets.MongoTickets(db)
    await store.insert({"_id": "a", "number": "INC-000001"})
    with pytest.raises(DuplicateKeyError):
        await store.insert({"_id": "b", "number": "INC-000001"})


async def test_api_keys_are_stored_hashed_and_authenticate(db):
    keys = api_keys.MongoApiKeys(db)
    key, principal = await keys.create(Role.AGENT, "Ann", "ann@example.com", SystemClock().now())
    stored = await db[api_keys.COLLECTION].find_one({})
    assert key not in str(stored)
    assert await keys.authenticate(key) == principal
    assert await keys.authenticate(key + "x") is None
