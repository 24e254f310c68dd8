"""Intake's read models on the real database: kept live by every write, and a rebuild gives the same documents."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from ulid import ULID

from services.intake.adapters.tickets import MongoTickets
from services.intake.adapters.views import COLLECTION, MongoViews
from services.intake.domain import actions
from services.intake.domain.shelves import Shelving
from services.intake.domain.tickets import new_ticket_document
from services.intake.domain.views import bucket_of, day_of, open_id, words_of
from services.intake.service_layer.commands import perform
from services.intake.service_layer.queries import (
    TicketFilter,
    created_between,
    reporter_history,
    search,
    staff_history,
)
from services.intake.service_layer.rebuild import rebuild_views
from services.intake.service_layer.view_migrations import MIGRATIONS, migrate_views
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor
from tests.command_log import CommandLog

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


def tiny_shelves(store: MongoTickets) -> MongoTickets:
    """Return the store with shelves of two or three tickets, so a few dozen tickets fill many of them."""
    store.views.shelving = Shelving(history_size=3, reporter_size=2)
    return store


async def random_history(db, seed: int, tickets: int = 25, *, tiny: bool = False) -> MongoTickets:
    rng = random.Random(seed)
    store = tiny_shelves(MongoTickets(db)) if tiny else MongoTickets(db)
    for n in range(tickets):
        if tiny and n == tickets // 2:  # a restart (or a second replica): it learns the shelves from the directories
            store = tiny_shelves(MongoTickets(db))
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


@pytest.mark.parametrize("seed, tiny", [(1, False), (2, False), (3, False), (4, True), (5, True)])
async def test_a_rebuild_from_the_tickets_equals_the_views_kept_live(db, seed, tiny):
    store = await random_history(db, seed, tiny=tiny)
    live = await snapshot(db)
    assert live, "the writes kept views"
    await db[COLLECTION].delete_many({})
    await rebuild_views(store)
    assert await snapshot(db) == live


@pytest.mark.parametrize("tiny", [False, True])
async def test_lists_and_search_read_the_views(db, tiny):
    store = await random_history(db, 7, tickets=30, tiny=tiny)
    views = MongoViews(db)
    now = START + timedelta(days=80)
    everything = [t async for t in store.all()]
    mine = await reporter_history(views, TicketFilter(reporter_id="r1"), None, 100)
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
    for reporter in ("r1", "r2", "r3"):  # My Tickets paged across shelves: every ticket once, newest first
        paged, before = [], None
        while True:
            page = await reporter_history(views, TicketFilter(reporter_id=reporter), before, 2)
            paged += [t["id"] for t in page.items]
            if page.next_before is None:
                break
            before = page.next_before
        assert paged == sorted((t["_id"] for t in everything if t["reporter"]["id"] == reporter), reverse=True)


async def test_shelves_stay_bounded_and_list_every_ticket(db):
    store = await random_history(db, 11, tickets=40, tiny=True)
    shelves = {d["_id"]: len(d.get("entries") or {}) async for d in db[COLLECTION].find({})
               if d["_id"].startswith(("day:", "mine:"))}
    assert len(shelves) > 10, "the tickets went on many shelves"
    # each of the two writers (before and after the restart) fills a shelf to its size at most
    assert all(count <= 2 * 3 for doc_id, count in shelves.items() if doc_id.startswith("day:")), shelves
    assert all(count <= 2 * 2 for doc_id, count in shelves.items() if doc_id.startswith("mine:")), shelves
    everything = [t async for t in store.all()]
    report = await created_between(MongoViews(db), START, START + timedelta(days=90))
    assert sorted(row["created_at"] for row in report) == sorted(t["created_at"] for t in everything)


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


async def test_read_models_of_an_older_build_are_migrated_while_live_and_equal_a_rebuild(db):
    store = await random_history(db, 13, tickets=30)
    # the shape an older build left: no shelves on tickets, no directories, the open work in 32 buckets
    await store.collection.update_many({}, {"$unset": {"shelves": ""}})
    await rebuild_views(store)  # day and year documents, as the older build kept them
    await db[COLLECTION].delete_many({"_id": {"$regex": "^(days|reporter):"}})
    await db[MIGRATIONS].delete_many({})
    tickets = [t async for t in store.all()]
    open_now = [t for t in tickets if t["status"] != Status.CLOSED]
    strays = [t for t in open_now if open_id(t["_id"]) != f"open:{bucket_of(t['_id'], 32)}"]
    assert strays, "some open tickets hash to another bucket of 64 than of 32"
    for ticket in strays:
        entry = (await db[COLLECTION].find_one({"_id": open_id(ticket["_id"])}))["entries"][ticket["_id"]]
        await db[COLLECTION].update_one({"_id": open_id(ticket["_id"])}, {"$unset": {f"entries.{ticket['_id']}": ""}})
        await db[COLLECTION].update_one({"_id": f"open:{bucket_of(ticket['_id'], 32)}"},
                                        {"$set": {f"entries.{ticket['_id']}": entry}}, upsert=True)
    views = MongoViews(db)
    assert (await reporter_history(views, TicketFilter(reporter_id="r1"), None, 100)).items == [], \
        "without directories the older shape lists nothing: what the migration fixes"

    assert await migrate_views(store) == len(tickets)
    assert await migrate_views(store) == 0, "once done, it is recorded and not run again"
    mine = await reporter_history(views, TicketFilter(reporter_id="r1"), None, 100)
    assert [t["id"] for t in mine.items] == sorted((t["_id"] for t in tickets if t["reporter"]["id"] == "r1"),
                                                   reverse=True)
    assert sorted(e["id"] for e in await views.open_entries()) == sorted(t["_id"] for t in open_now)
    migrated = await snapshot(db)
    await db[COLLECTION].delete_many({})
    await rebuild_views(store)
    assert await snapshot(db) == migrated


async def test_month_long_posting_lists_of_an_older_build_are_split_by_day_and_removed(db):
    store = await random_history(db, 17, tickets=30)
    tickets = [t async for t in store.all()]
    store = MongoTickets(db)  # the new build's process: the older one wrote these tickets
    # the shape version 2 left: one posting list per word and month, no day postings or day lists
    await db[COLLECTION].delete_many({"_id": {"$regex": "^words?:"}})
    months: dict[str, list[str]] = {}
    for ticket in tickets:
        for word in words_of(ticket["title"]):
            months.setdefault(f"word:{day_of(ticket['created_at'])[:7]}:{word}", []).append(ticket["_id"])
    await db[COLLECTION].insert_many([{"_id": doc_id, "ids": ids} for doc_id, ids in months.items()])
    await db[MIGRATIONS].replace_one({"_id": "ticket_views"}, {"version": 2}, upsert=True)
    views, now = MongoViews(db), START + timedelta(days=80)
    expected = sorted((t["_id"] for t in tickets if "invoice" in t["title"].split()), reverse=True)
    assert expected
    assert (await search(views, TicketFilter(q="invoice"), None, 100, now, START.date())).items == [], \
        "the older shape is not what search reads"

    assert await migrate_views(store) == len(tickets)
    found = await search(views, TicketFilter(q="invoice"), None, 100, now, START.date())
    assert [t["id"] for t in found.items] == expected
    assert await db[COLLECTION].count_documents({"_id": {"$in": list(months)}}) == 0, "month-long lists removed"
    migrated = await snapshot(db)
    await db[COLLECTION].delete_many({})
    await rebuild_views(store)
    assert await snapshot(db) == migrated


async def test_entries_are_stored_packed_and_entries_an_older_build_wrote_nested_still_read(db):
    views = MongoViews(db)
    created = START.replace(microsecond=0)
    summary = {"id": "t-new", "status": "open", "created_at": created, "clocks": {"response": {"due_at": created}}}
    await views.apply({"open:1": {"$set": {"entries.t-new": summary}}})
    stored = await db[COLLECTION].find_one({"_id": "open:1"})
    assert isinstance(stored["entries"]["t-new"], bytes), "one opaque value per entry"
    await db[COLLECTION].update_one({"_id": "open:1"}, {"$set": {"entries.t-old": {**summary, "id": "t-old"}}})
    entries = {e["id"]: e for e in await views.open_entries()}
    assert entries["t-new"] == summary and entries["t-old"] == {**summary, "id": "t-old"}


async def test_a_day_already_in_a_words_month_list_is_not_written_again(mongodb_url, db_name):
    log = CommandLog()

    def statements() -> list[str]:
        return [str(update["q"]["_id"]) for command in log.named("update") for update in command["updates"]]

    client = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[log])
    db = client[db_name]
    try:
        store = MongoTickets(db)
        ids = []
        for n, title in enumerate(["invoice export broken", "invoice export slow", "invoice totals wrong"]):
            created = START + timedelta(minutes=n)
            document = new_ticket_document(
                ticket_id=str(ULID.from_timestamp(created.timestamp())), number=f"INC-{n + 1:06d}",
                fields={"title": title, "type": "data"}, reporter={"id": "r1", "name": "R1"}, now=created, outbox=[])
            await store.insert(document)
            ids.append(document["_id"])
        month_lists = [s for s in statements() if s.startswith("words:")]
        assert sorted(month_lists) == sorted(f"words:2026-03:{w}" for w in
                                             ("invoice", "export", "broken", "slow", "totals", "wrong"))
        found = await search(MongoViews(db), TicketFilter(q="invoice"), None, 100, START + timedelta(days=1),
                             START.date())
        assert {t["id"] for t in found.items} == set(ids)
        restarted = MongoTickets(db)  # another process knows nothing: it writes the day again, harmlessly
        log.commands.clear()
        created = START + timedelta(minutes=9)
        document = new_ticket_document(ticket_id=str(ULID.from_timestamp(created.timestamp())), number="INC-000009",
                                       fields={"title": "invoice", "type": "data"},
                                       reporter={"id": "r1", "name": "R1"}, now=created, outbox=[])
        await restarted.insert(document)
        assert "words:2026-03:invoice" in statements()
    finally:
        await client.drop_database(db_name)
        await client.close()
