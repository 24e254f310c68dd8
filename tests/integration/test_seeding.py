"""`incidents seed`: copies of real tickets, stored in bulk, with views equal to what live writes would keep."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.adapters.api_keys import MongoApiKeys
from services.intake.adapters.tickets import MongoTickets
from services.intake.adapters.views import COLLECTION
from services.intake.domain import actions
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.commands import perform
from services.intake.service_layer.queries import TicketFilter, open_work, reporter_history
from services.intake.service_layer.rebuild import rebuild_views
from services.intake.service_layer.seeding import Seeder, SeedPlan
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import new_clock
from tests.integration.test_views import snapshot

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AGENT = Actor(type="agent", id="a1", name="Ann")


async def template(store: MongoTickets, number: int, severity: str, closed: bool) -> None:
    """Store a triaged ticket with running clocks, closed if asked: what the running system would have stored."""
    created = NOW - timedelta(days=3, hours=number)
    document = new_ticket_document(ticket_id=f"template-{number}", number=f"INC-{await store.next_sequence():06d}",
                                   fields={"title": "Export fails", "type": "data", "kind": "incident"},
                                   reporter={"id": "r0", "name": "Ada"}, now=created, outbox=[])
    await store.insert(document)
    clock = new_clock(created, created, created + timedelta(hours=4), 4 * 3600, False, False, BusinessCalendar())
    await store.change(document["_id"], {}, {"severity": severity, "tier": 1, "team": "service-desk",
                                             "sla": {"clocks": {"response": clock, "resolution": clock}}}, [], [])
    if closed:
        ticket = await store.get(document["_id"])
        await perform(actions.change_status(ticket, AGENT, created + timedelta(hours=2), Status.CLOSED, "done"),
                      tickets=store)


async def test_seeded_copies_have_the_views_a_rebuild_gives_and_show_in_the_lists(db):
    store = MongoTickets(db)
    with pytest.raises(LookupError):
        await Seeder(store, MongoApiKeys(db), random.Random(1)).seed(SeedPlan(10, 2, 3), NOW)
    await template(store, 1, "high", closed=False)
    await template(store, 2, "low", closed=True)

    seeded = await Seeder(store, MongoApiKeys(db), random.Random(1)).seed(SeedPlan(count=300, open_count=40,
                                                                                     reporters=7, days=60), NOW)

    assert seeded.tickets == 300 and len(seeded.reporter_keys) == 7
    assert await db["tickets"].count_documents({}) == 302
    live = await snapshot(db)
    await db[COLLECTION].delete_many({})
    await rebuild_views(store)
    assert await snapshot(db) == live, "the seeder's merged view writes equal a rebuild from the tickets"
    open_page = await open_work(store.views, TicketFilter(), None, 100)
    assert len(open_page.items) == 41  # 40 copies and the open template
    reporter = next(iter(seeded.reporter_keys))
    mine = await reporter_history(store.views, TicketFilter(reporter_id=reporter), None, 100)
    stored = await db["tickets"].count_documents({"reporter.id": reporter})
    assert stored and len(mine.items) == min(stored, 100)
    copy = await db["tickets"].find_one({"reporter.id": reporter})
    assert copy["number"] > "INC-000002" and copy["outbox"] == [] and copy["sla"]["clocks"]["response"]["due_at"]
    assert await store.by_number(copy["number"]) is not None
