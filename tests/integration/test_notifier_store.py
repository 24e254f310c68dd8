"""The notifier's Mongo repositories on the real server: claim with a lease, settle, digests, rate slots."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.adapters.deliveries import MongoDeliveries
from services.notifier.adapters.rate_slots import MongoRateSlots
from services.notifier.domain.deliveries import Content, new_delivery
from services.notifier.domain.messages import from_triaged
from services.notifier.domain.routing import Channel, Recipient, Role
from shared.clock import FakeClock
from shared.locks import KeyedLocks
from tests.factories import triaged

pytestmark = pytest.mark.integration


def document(now, key="oncall"):
    notice = from_triaged("01JTESTEVENT0000000000000A", triaged())
    recipient = Recipient(Role.ON_CALL, key, "On-call", Channel.WEBHOOK, "pager")
    return new_delivery(notice, "ticket_assigned", recipient, Content(subject="s", text="t"), now)


async def test_claim_lease_settle_and_outbox(db):
    clock = FakeClock()
    store = MongoDeliveries(db, KeyedLocks())
    now = clock.now()
    doc = document(now)
    assert await store.create(doc) is True
    assert await store.create(doc) is False
    assert await store.due(now, 10) == [doc["_id"]]
    claimed = await store.claim(doc["_id"], now, now + timedelta(seconds=30), "w1")
    assert claimed is not None and claimed["lease_owner"] == "w1"
    assert await store.claim(doc["_id"], now, now + timedelta(seconds=30), "w2") is None
    assert await store.due(now, 10) == [doc["_id"]], "offered again until handled"
    await store.handled(doc["_id"])
    assert await store.due(now, 10) == []
    assert await store.due(now + timedelta(seconds=30), 10) == [doc["_id"]], "the lease's end is scheduled"
    await store.handled(doc["_id"])
    later = now + timedelta(seconds=5)
    assert await store.settle(doc["_id"], "w2", {"state": "delivered"}) is False
    assert await store.settle(doc["_id"], "w1", {"state": "pending", "next_attempt_at": later},
                              attempt={"at": now, "outcome": "transient"},
                              outbox=[{"event_id": "a"}, {"event_id": "b"}]) is True
    stored = await store.get(doc["_id"])
    assert stored["lease_owner"] is None and [e["event_id"] for e in stored["outbox"]] == ["a", "b"]
    assert len(stored["attempts"]) == 1
    assert await store.due(now, 10) == []
    assert await store.due(later, 10) == [doc["_id"]]
    await store.handled(doc["_id"])
    await store.settle(doc["_id"], "w1", {"state": "delivered"})
    assert await store.due(later, 10) == []
    assert [d["_id"] for d in await store.for_ticket(doc["ticket_id"])] == [doc["_id"]]


async def test_held_deliveries_join_a_digest_once(db):
    clock = FakeClock()
    store = MongoDeliveries(db, KeyedLocks())
    now = clock.now()
    doc = document(now)
    await store.create(doc)
    await store.claim(doc["_id"], now, now + timedelta(seconds=30), "w1")
    await store.settle(doc["_id"], "w1", {"state": "held", "next_attempt_at": now})
    assert [d["_id"] for d in await store.held_for("webhook", "oncall")] == [doc["_id"]]
    assert await store.join_digest(doc["_id"], "digest:x", now, None) is True
    assert await store.join_digest(doc["_id"], "digest:y", now, None) is False
    assert [d["_id"] for d in await store.items("digest:x")] == [doc["_id"]]


async def test_rate_slot_goes_to_one_holder_per_interval(db):
    clock = FakeClock()
    slots = MongoRateSlots(db, KeyedLocks())
    now = clock.now()
    minute = timedelta(seconds=60)
    assert await slots.acquire("webhook:oncall", "a", now, minute) is None
    assert await slots.acquire("webhook:oncall", "b", now, minute) == now + minute
    assert await slots.acquire("webhook:oncall", "a", now, minute) is None, "the holder may re-take its slot"
    assert await slots.acquire("webhook:other", "b", now, minute) is None
    assert await slots.acquire("webhook:oncall", "b", now + minute, minute) is None


async def test_an_entry_that_comes_due_before_its_delivery_is_stored_is_kept(db):
    from shared.schedule import NotStoredYet

    clock = FakeClock()
    store = MongoDeliveries(db, KeyedLocks())
    now = clock.now()
    doc = document(now)
    await store.schedule.add(doc["_id"], now, now)  # create() schedules first, then inserts
    assert await store.due(now, 10) == [doc["_id"]]
    with pytest.raises(NotStoredYet):
        await store.claim(doc["_id"], now, now + timedelta(seconds=30), "w1")
    await store.postpone(doc["_id"], now)
    await store.collection.insert_one(doc)  # the insert lands
    assert await store.due(now, 10) == [doc["_id"]], "the entry was kept"
    assert await store.claim(doc["_id"], now, now + timedelta(seconds=30), "w1") is not None


async def test_an_entry_for_a_delivery_never_stored_is_dropped_after_a_while(db):
    from shared.schedule import GIVE_UP_ON_MISSING

    clock = FakeClock()
    store = MongoDeliveries(db, KeyedLocks())
    now = clock.now()
    await store.schedule.add("ghost", now, now)
    later = now + GIVE_UP_ON_MISSING + timedelta(seconds=1)
    assert await store.due(later, 10) == ["ghost"]
    await store.postpone("ghost", later)
    assert await store.due(later, 10) == []
