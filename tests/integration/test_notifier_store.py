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
from tests.factories import triaged

pytestmark = pytest.mark.integration


def document(now, key="oncall"):
    notice = from_triaged("01JTESTEVENT0000000000000A", triaged())
    recipient = Recipient(Role.ON_CALL, key, "On-call", Channel.WEBHOOK, "pager")
    return new_delivery(notice, "ticket_assigned", recipient, Content(subject="s", text="t"), now)


async def test_claim_lease_settle_and_outbox(db):
    clock = FakeClock()
    store = MongoDeliveries(db)
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
    store = MongoDeliveries(db)
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
    slots = MongoRateSlots(db)
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
    store = MongoDeliveries(db)
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
    store = MongoDeliveries(db)
    now = clock.now()
    await store.schedule.add("ghost", now, now)
    later = now + GIVE_UP_ON_MISSING + timedelta(seconds=1)
    assert await store.due(later, 10) == ["ghost"]
    await store.postpone("ghost", later)
    assert await store.due(later, 10) == []


def dispatcher_on(db, clock, tmp_path, email, *, max_interrupted: int = 5):
    """Return a dispatcher and loop on the real store, routing ticket_received to the reporter by e-mail."""
    import random

    import yaml
    from prometheus_client import CollectorRegistry

    from services.notifier.adapters.metrics import NotifierMetrics
    from services.notifier.adapters.routing_file import load_router
    from services.notifier.adapters.templates import TemplateRenderer
    from services.notifier.domain.retry import RetryPolicy
    from services.notifier.entrypoints.worker import DeliveryLoop
    from services.notifier.service_layer.dispatch import Dispatcher

    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "routes": [
        {"message": "ticket_received", "to": "reporter", "channels": ["email"]}]}))
    renderer = TemplateRenderer()
    store = MongoDeliveries(db)
    dispatcher = Dispatcher(
        deliveries=store, slots=MongoRateSlots(db), senders={"email": email},
        router=load_router(path, {}, renderer.exists), renderer=renderer,
        policy=RetryPolicy(base_seconds=2, max_seconds=60, max_attempts=3, max_interrupted=max_interrupted),
        clock=clock, metrics=NotifierMetrics.register(CollectorRegistry()), lease=timedelta(seconds=30),
        rng=random.Random(1))
    return store, dispatcher, DeliveryLoop(dispatcher, store, clock, poll_seconds=1, concurrency=4)


def mail_document(now):
    notice = from_triaged("01JTESTEVENT0000000000000B", triaged())
    recipient = Recipient(Role.REPORTER, "ada@example.com", "Ada", Channel.EMAIL, "ada@example.com")
    return new_delivery(notice, "ticket_received", recipient, Content(subject="s", text="t"), now)


async def test_a_sender_exception_is_a_counted_attempt_and_ends_as_notification_failed(db, tmp_path):
    from tests.unit.test_notifier_failures import RaisingChannel

    clock = FakeClock()
    email = RaisingChannel()
    store, dispatcher, loop = dispatcher_on(db, clock, tmp_path, email)
    document = dispatcher.leased(mail_document(clock.now()))
    await store.create(document)
    loop.start(document)
    for _ in range(10):
        await loop.drain()
        clock.advance(timedelta(minutes=1))
        await loop.run_once()
    await loop.drain()
    stored = await store.get(document["_id"])
    assert stored["state"] == "failed" and len(stored["attempts"]) == 3 and len(email.sent) == 3
    assert all(a["error"].startswith("unexpected RuntimeError") for a in stored["attempts"])
    [event] = stored["outbox"]
    assert event["event_type"] == "notification.failed" and event["payload"]["attempts"] == 3
    assert stored["unsettled_leases"] == 0
    assert await store.due(clock.now() + timedelta(hours=1), 10) == [], "nothing is scheduled any more"


async def test_leases_that_end_unsettled_are_counted_and_bound_the_retries(db, tmp_path):
    from tests.fakes_notifier import FakeChannel

    clock = FakeClock()
    email = FakeChannel()
    store, dispatcher, loop = dispatcher_on(db, clock, tmp_path, email, max_interrupted=2)
    document = dispatcher.leased(mail_document(clock.now()))
    await store.create(document)  # the process dies before sending
    for owner in ("dies-1", "dies-2"):
        clock.advance(timedelta(seconds=31))
        now = clock.now()
        claimed = await store.claim(document["_id"], now, now + timedelta(seconds=30), owner)
        assert claimed is not None
    assert (await store.get(document["_id"]))["unsettled_leases"] == 3
    clock.advance(timedelta(seconds=31))
    await loop.run_once()
    await loop.drain()
    stored = await store.get(document["_id"])
    assert stored["state"] == "failed" and email.sent == [], "given up without another send"
    assert "gave up after 3 interrupted steps" in stored["last_error"] and stored["unsettled_leases"] == 0
    assert [e["event_type"] for e in stored["outbox"]] == ["notification.failed"]
