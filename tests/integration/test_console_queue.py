"""The console queue on the real database: prepared once per stored entry, and this process's writes show at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.adapters.views import MongoViews
from services.intake.domain.queue import Me, QueueFilter, build_queue
from services.intake.service_layer.open_queue import OpenQueue
from shared.clock import FakeClock
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import new_clock, pause

pytestmark = pytest.mark.integration
CALENDAR = BusinessCalendar()
ME = Me(name="Ann Agent", email="ann@support.example.com")


def entry(n: int, now: datetime, due_in: timedelta, business: bool = False) -> dict:
    """Return an open-work entry whose response clock started at now and is due after due_in."""
    due = CALENDAR.add_working_time(now, due_in) if business else now + due_in
    return {"id": f"01J{n:023d}", "number": f"INC-{n:06d}", "status": "open", "title": f"Probe {n}",
            "severity": "high", "tier": 1, "team": "desk", "type": "data", "kind": "incident", "assignee": None,
            "created_at": now, "clocks": {"response": new_clock(now, now, due, due_in.total_seconds(), business, False,
                                                                CALENDAR)}}


async def test_the_queue_keeps_its_preparation_and_follows_own_writes_at_once(db):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    views = MongoViews(db, fresh_seconds=60)
    queue = OpenQueue(views, CALENDAR, 0.75)
    first, second = entry(1, clock.now(), timedelta(hours=6), business=True), entry(2, clock.now(), timedelta(hours=2))
    await views.apply({"open:0": {"$set": {f"entries.{first['id']}": first}},
                       "open:1": {"$set": {f"entries.{second['id']}": second}}})

    async def numbers() -> list[str]:
        view = await queue.view(QueueFilter(), ME, now=clock.now(), limit=10)
        fresh = build_queue(await views.open_entries(), QueueFilter(), ME, now=clock.now(), calendar=CALENDAR,
                            at_risk_fraction=0.75, limit=10)
        assert [(r.entry["id"], r.standing) for r in view.rows] == [(r.entry["id"], r.standing) for r in fresh.rows]
        assert view.counts == fresh.counts and view.total == fresh.total == 2
        return [r.entry["number"] for r in view.rows]

    assert await numbers() == ["INC-000002", "INC-000001"]
    kept = {item.id: item for item in queue.prepared(await views.open_entries())}
    clock.advance(timedelta(hours=5))  # 14:00: 2 is 3 h overdue, 1 has 1 working hour left
    assert await numbers() == ["INC-000002", "INC-000001"]
    assert (await queue.view(QueueFilter(), ME, now=clock.now(), limit=10)).rows[0].standing.tone == "overdue"

    waiting = {**second, "status": "waiting_for_info", "clocks": {"response": dict(second["clocks"]["response"])}}
    pause(waiting["clocks"]["response"], clock.now(), CALENDAR)
    await views.apply({"open:1": {"$set": {f"entries.{second['id']}": waiting}}})
    assert await numbers() == ["INC-000001", "INC-000002"], "this process's write is ranked at once: paused, last"
    again = {item.id: item for item in queue.prepared(await views.open_entries())}
    assert again[first["id"]] is kept[first["id"]], "the untouched bucket's entry is not prepared again"
    assert again[second["id"]] is not kept[second["id"]]
