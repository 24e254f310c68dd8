"""Idempotency keys on the real database: replayed for a day, then forgotten; a crash never blocks a key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.adapters.idempotency import COLLECTION, MongoIdempotency

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_a_finished_key_is_replayed_until_it_expires(db):
    keys = MongoIdempotency(db)
    assert await keys.begin("ada", "k1", "h1", T0) is None
    await keys.finish("ada", "k1", 201, {"number": "INC-000001"}, {})
    replay = await keys.begin("ada", "k1", "h1", T0 + timedelta(hours=23))
    assert replay["state"] == "done" and replay["body"] == {"number": "INC-000001"}
    assert await keys.begin("ada", "k1", "h2", T0 + timedelta(hours=24, seconds=1)) is None, "a day later it is new"


async def test_a_key_left_in_progress_by_a_crash_is_taken_over_once(db):
    keys = MongoIdempotency(db)
    assert await keys.begin("ada", "k2", "h1", T0) is None  # the process dies here, mid-request
    busy = await keys.begin("ada", "k2", "h1", T0 + timedelta(seconds=30))
    assert busy["state"] == "in_progress", "a request still in flight blocks a retry (409)"
    later = T0 + timedelta(minutes=3)
    outcomes = await asyncio.gather(*(MongoIdempotency(db).begin("ada", "k2", "h1", later) for _ in range(5)))
    assert sum(outcome is None for outcome in outcomes) == 1, "exactly one retry takes the abandoned key over"


async def test_expired_records_are_deleted_from_the_wheel_without_a_scan(db):
    keys = MongoIdempotency(db)
    for n in range(3):
        await keys.begin("ada", f"old{n}", "h", T0)
    await keys.begin("ada", "young", "h", T0 + timedelta(hours=20))
    assert await keys.expire(T0 + timedelta(hours=25)) == 3
    assert [d["_id"] async for d in db[COLLECTION].find({})] == ["ada:young"]
