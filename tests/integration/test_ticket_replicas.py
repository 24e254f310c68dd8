"""Two intake replicas writing one ticket: whatever order their view updates land in, the views end as the ticket is."""

from __future__ import annotations

import asyncio

import pytest

from services.intake.adapters import tickets
from services.intake.adapters.views import COLLECTION as VIEWS
from services.intake.adapters.views import MongoViews, unpacked
from services.intake.domain.tickets import new_ticket_document
from services.intake.domain.views import sla_line, view_updates
from shared.clock import SystemClock
from shared.persistence import ensure_indexes

pytestmark = pytest.mark.integration


class HeldViews(MongoViews):
    """The real view writes, except that the first one waits until released (a replica that stalls after its write)."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self._first = True

    async def apply(self, updates) -> None:
        if self._first:
            self._first = False
            self.reached.set()
            await self.release.wait()
        await super().apply(updates)


async def stored_entries(db, ticket: dict) -> dict[str, dict]:
    """Return {view document id: this ticket's entry} for every view the ticket as stored should be in."""
    expected = view_updates(None, ticket, repair=True)
    found = {}
    for doc_id, update in expected.items():
        if "$set" in update:
            document = unpacked(await db[VIEWS].find_one({"_id": doc_id})) or {}
            found[doc_id] = (document.get("entries") or {}).get(ticket["_id"])
    return found


async def test_view_updates_that_cross_between_replicas_end_as_the_ticket_is(db):
    await ensure_indexes(db, tickets.INDEXES)
    ticket = new_ticket_document(ticket_id="t1", number="INC-000001", fields={"title": "Export fails"},
                                 reporter={"id": "r1", "name": "Ada"}, now=SystemClock().now(), outbox=[])
    await tickets.MongoTickets(db).insert(ticket)
    slow = tickets.MongoTickets(db, views=HeldViews(db))  # two replicas: nothing shared but the database
    fast = tickets.MongoTickets(db)

    stalled = asyncio.create_task(slow.change("t1", {}, {"status": "in_progress"}, [], []))
    await slow.views.reached.wait()  # slow has written the ticket; its view updates are on their way
    assert await fast.change("t1", {}, {"status": "resolved"}, [], [])  # fast writes after it, views and all
    slow.views.release.set()  # slow's older view updates land last
    assert await stalled

    current = await db[tickets.COLLECTION].find_one({"_id": "t1"})
    assert current["status"] == "resolved"
    entries = await stored_entries(db, current)
    summaries = [entry for doc_id, entry in entries.items() if not doc_id.startswith("sla:")]
    assert summaries and all(entry is not None and entry["status"] == "resolved" and entry["rev"] == current["rev"]
                             for entry in summaries), entries
    assert all(entry == sla_line(current) for doc_id, entry in entries.items() if doc_id.startswith("sla:"))
    assert tickets.VIEWS_PENDING not in current, "settled: no mark left for recover() to find"
