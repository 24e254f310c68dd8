"""Intake's read models on the real database: kept live by every write, and a rebuild gives the same documents."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from ulid import ULID

from services.intake.adapters.tickets import MongoTickets
from services.intake.adapters.views import COLLECTION, MongoViews
from services.intake.domain import actions
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.commands import perform
from services.intake.service_layer.queries import TicketFilter, reporter_history, search, staff_history
from services.intake.service_layer.rebuild import rebuild_views
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor

pytestmark = pytest.mark.integration
AGENT = Actor(type="agent", id="a1", name="Ann")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WORDS = ["export", "login", "invoice", "slow", "blank", "page", "report", "sync"]
MOVES = [Status.IN_PROGRESS, Status.WAITING_FOR_INFO, Status.ON_HOLD, Status.CLOSED]


def normalised(documents: dict) -> dict:
    """Return view documents with their posting lists sorted (their order depends on history, not content)."""
    found = {}
    for doc_id, document in documents.items():
        document = {k: v for k, v in document.items() if k != "_id"}
        if "ids" in document:
            document["ids"] = sorted(document["ids"])
        if document.get("entries") == {} and set(document) == {"entries"}:
            continue  # an emptied bucket is the same as no bucket
        found[doc_id] = document
    return found


async def snapshot(db) -> dict:
    return normalised({d["_id"]: d async for d in db[COLLECTION].find({})})


async def random_history(db, seed: int, tickets: int = 25) -> MongoTickets:
    rng = random.Random(seed)
    store = MongoTickets(db)
    for n in range(tickets):
        created = START + timedelta(days=rng.randint(0, 70), minutes=n)
        reporter = rng.choice(["r1", "r2", "r3"])
        kind = rng.choice(["incident", "incident", "feature_request"])
        title = " ".join(rng.sample(WORDS, 3)) + f" {n}"
        document = new_ticket_document(
            ticket_id=str(ULID.from_timestamp(created.timestamp())), number=f"INC-{n + 1:06d}",
            fields={"title": title, "type": "data", "kind": kind},
            reporter={"id": reporter, "name": reporter.upper()}, now=created, outbox=[])
        await store.insert(document)
        ticket = await store.get(document["_id"])
        for _ in range(rng.randint(0, 3)):
            wanted = rng.choice(MOVES)
            try:
                update = actions.change_status(ticket, AGENT, created + timedelta(hours=1), wanted, "because")
            except Exception:  # an illegal move for this status: skip it
                continue
            ticket = await perform(update, tickets=store)
    return store


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_rebuild_from_the_tickets_equals_the_views_kept_live(db, seed):
    store = await random_history(db, seed)
    live = await snapshot(db)
    assert live, "the writes kept views"
    await db[COLLECTION].delete_many({})
    await rebuild_views(store)
    assert await snapshot(db) == live


async def test_lists_and_search_read_the_views(db):
    store = await random_history(db, 7, tickets=30)
    views = MongoViews(db)
    now = START + timedelta(days=80)
    everything = [t async for t in store.all()]
    mine = await reporter_history(views, TicketFilter(reporter_id="r1"), None, 100, now, 2026)
    assert [t["id"] for t in mine.items] == sorted((t["_id"] for t in everything if t["reporter"]["id"] == "r1"),
                                                   reverse=True)
    open_now = await staff_history(views, TicketFilter(status="in_progress"), None, 100, now, START.date())
    assert {t["id"] for t in open_now.items} == {t["_id"] for t in everything if t["status"] == "in_progress"}
    found = await search(views, TicketFilter(q="Invoice  SLOW"), None, 100, now, START.date())
    expected = {t["_id"] for t in everything if {"invoice", "slow"} <= set(t["title"].split())}
    assert {t["id"] for t in found.items} == expected
    paged, before = [], None
    while True:
        page = await staff_history(views, TicketFilter(), before, 7, now, START.date())
        paged += [t["id"] for t in page.items]
        if page.next_before is None:
            break
        before = page.next_before
    assert paged == sorted((t["_id"] for t in everything), reverse=True)


async def test_the_open_work_kept_in_memory_shows_own_writes_at_once_and_another_replicas_soon(db):
    def entry(ticket_id: str) -> dict:
        return {"$set": {f"entries.{ticket_id}": {"id": ticket_id, "status": "open"}}}

    mine, other = MongoViews(db, fresh_seconds=0.2), MongoViews(db)  # two intake replicas
    bucket = "open:0"
    await mine.apply({bucket: entry("t1")})
    assert {e["id"] for e in await mine.open_entries()} == {"t1"}, "this process's write is read back at once"

    await other.apply({bucket: entry("t2")})
    deadline = asyncio.get_running_loop().time() + 10
    while {e["id"] for e in await mine.open_entries()} != {"t1", "t2"}:
        assert asyncio.get_running_loop().time() < deadline, "another replica's write never showed"
        await asyncio.sleep(0.05)

    await mine.apply({bucket: {"$unset": {"entries.t1": ""}}})
    assert {e["id"] for e in await mine.open_entries()} == {"t2"}, "and so is its removal"
