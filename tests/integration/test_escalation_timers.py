"""The real timer loop on the real database with a fake clock: restart mid-way, replicas, exactly-once steps."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from datetime import timedelta

import pytest

from services.escalation.adapters.clocks import MongoClocks
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers
from shared.clock import FakeClock
from shared.contracts import Severity
from tests.factories import REPORTED_AT, envelope_for, escalation_policy, triaged

pytestmark = pytest.mark.integration

POLICY = escalation_policy()
TICKETS = 6
EXPECTED = {"response.0.warning.75", "response.0.warning.90", "response.0.breached",
            "resolution.0.warning.75", "resolution.0.warning.90", "resolution.0.breached"}


async def open_tickets(store: MongoClocks, clock: FakeClock, count: int = TICKETS) -> list[str]:
    """Triage `count` medium tickets at Tier 2 (no pages) through the real handler; return their ids."""
    handle = handlers(ClockUpdater(store, POLICY, clock))["ticket.triaged"]
    ids = []
    for n in range(count):
        event = triaged(number=f"INC-{n + 1:06d}", severity=Severity.MEDIUM, tier=2, team="technical-support")
        await handle(envelope_for(event), event)
        ids.append(event.ticket_id)
    return ids


async def fired_steps(store: MongoClocks) -> Counter:
    """Return how often each (ticket, step) was recorded and each SLA event owed, across all clocks."""
    counts: Counter = Counter()
    async for document in store.collection.find({}):
        for key in document["fired"]:
            counts[("fired", document["_id"], key)] += 1
        for event in document["outbox"]:
            if event["event_type"] in ("sla.warning", "sla.breached"):
                payload = event["payload"]
                counts[("event", document["_id"], event["event_type"], payload["target"], payload["fraction"])] += 1
    return counts


async def test_restart_while_timers_are_due_fires_every_step_exactly_once(db):
    clock = FakeClock(REPORTED_AT)
    first_store = MongoClocks(db)
    ids = await open_tickets(first_store, clock)
    lease = timedelta(seconds=30)
    first = TimerLoop(ClockUpdater(first_store, POLICY, clock), first_store, clock, lease=lease, batch_size=2)

    clock.set(REPORTED_AT + timedelta(minutes=50))  # the response warning at 75% is due everywhere
    await first.run_once()
    clock.set(REPORTED_AT + timedelta(hours=9))  # everything else falls due while escalation is "down"
    # the first process dies mid-way: it fired one ticket and had claimed another when it stopped
    await ClockUpdater(first_store, POLICY, clock).fire(ids[0], first.owner, lease)
    assert await first_store.claim(ids[1], clock.now(), clock.now() + lease, first.owner)
    task = asyncio.create_task(first.run())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # a new process (new store, new owner) runs the real loop; a fake clock drives it
    second_store = MongoClocks(db)
    second = TimerLoop(ClockUpdater(second_store, POLICY, clock), second_store, clock, poll_seconds=0.01)
    await second.run_once()
    assert (await second_store.get(ids[1]))["lease_owner"] == first.owner, "a live lease is respected"
    clock.advance(lease)  # the dead process's lease runs out
    runner = asyncio.create_task(second.run())
    try:
        for _ in range(500):
            if not await second_store.collection.count_documents({"next_due_at": {"$lte": clock.now()}}):
                break
            await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    await second.run_once()
    counts = await fired_steps(second_store)
    for ticket_id in ids:
        for key in EXPECTED:
            assert counts[("fired", ticket_id, key)] == 1, (ticket_id, key)
        for target in ("response", "resolution"):
            for kind, fraction in (("sla.warning", 0.75), ("sla.warning", 0.9), ("sla.breached", 1.0)):
                assert counts[("event", ticket_id, kind, target, fraction)] == 1, (ticket_id, kind, target, fraction)
    assert max(counts.values()) == 1
    escalated = [e async for d in second_store.collection.find({}) for e in d["outbox"]
                 if e["event_type"] == "ticket.escalated"]
    # the missed response moves each ticket Tier 2 -> 3; the later resolution miss is at the top (lead paged)
    assert sorted(e["payload"]["trigger"] for e in escalated) == ["response_breached"] * TICKETS


async def test_two_replicas_never_fire_the_same_step_twice(db):
    clock = FakeClock(REPORTED_AT)
    stores = [MongoClocks(db), MongoClocks(db)]  # as two processes: nothing shared but the database
    ids = await open_tickets(stores[0], clock, count=20)
    loops = [TimerLoop(ClockUpdater(s, POLICY, clock), s, clock, lease=timedelta(seconds=30)) for s in stores]
    for minutes in (45, 54, 60, 6 * 60, 7 * 60 + 12, 8 * 60, 9 * 60):
        clock.set(REPORTED_AT + timedelta(minutes=minutes))
        await asyncio.gather(*(loop.run_once() for loop in loops for _ in range(3)))
    counts = await fired_steps(stores[0])
    assert max(counts.values()) == 1
    for ticket_id in ids:
        assert all(counts[("fired", ticket_id, key)] == 1 for key in EXPECTED)


async def test_clocks_stored_before_the_schedule_existed_still_fire(db):
    clock = FakeClock(REPORTED_AT)
    store = MongoClocks(db)
    ids = await open_tickets(store, clock, count=2)
    await store.schedule.collection.delete_many({})  # as if written by a version without the schedule

    upgraded = MongoClocks(db)
    loop = TimerLoop(ClockUpdater(upgraded, POLICY, clock), upgraded, clock)
    clock.set(REPORTED_AT + timedelta(minutes=50))
    fired = await loop.run_once()
    assert sorted(fired) == ["response.0.warning.75"] * 2
    assert await upgraded.index_existing(clock.now()) is None, "the backfill runs once"
    clock.set(REPORTED_AT + timedelta(hours=9))
    await loop.run_once()
    counts = await fired_steps(upgraded)
    assert all(counts[("fired", ticket_id, key)] == 1 for ticket_id in ids for key in EXPECTED)


async def test_a_step_made_due_by_a_write_fires_though_a_timer_pass_came_between_its_entry_and_the_write(db):
    clock = FakeClock(REPORTED_AT)
    store = MongoClocks(db)
    [ticket_id] = await open_tickets(store, clock, 1)
    loop = TimerLoop(ClockUpdater(store, POLICY, clock), store, clock)
    assert await loop.run_once() == [], "nothing due yet"
    # a change that leaves the response clock already overdue (a reclassification to a tighter target)
    before = await store.get(ticket_id)
    after = copy.deepcopy(before)
    late = clock.now() - timedelta(minutes=1)
    after["clocks"]["response"].update(anchor_at=late, remaining_seconds=0.0, due_at=late)
    after.update(next_due_at=late, updated_at=clock.now())
    real_add, polled = store.schedule.add, []

    async def add_then_poll(key, at, now):
        added = await real_add(key, at, now)
        if not polled:  # another replica's timer pass lands between the entry and the record's write
            polled.append(await loop.run_once())
        return added

    store.schedule.add = add_then_poll
    assert await store.save(before, after, [], []) is not None
    store.schedule.add = real_add
    assert polled == [[]], "that pass found the record not yet due and used the entry up"
    assert "response.0.breached" in await loop.run_once(), "the step fires at the next pass all the same"
