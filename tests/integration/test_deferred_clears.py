"""A burst of writes to one ticket clears its views mark once, after the last, on the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from ulid import ULID

from services.intake.adapters.tickets import VIEWS_PENDING, MongoTickets
from services.intake.adapters.views import COLLECTION
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.rebuild import rebuild_views
from tests.command_log import CommandLog

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clears(log: CommandLog) -> int:
    """Return how many commands cleared a ticket's views mark."""
    return sum(VIEWS_PENDING in command.get("update", {}).get("$unset", {}) for command in log.named("findAndModify"))


async def test_a_burst_of_writes_to_one_ticket_clears_its_mark_once_and_the_views_stay_true(mongodb_url, db_name):
    log = CommandLog()
    client = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[log])
    db = client[db_name]
    try:
        store = MongoTickets(db)
        deferring = asyncio.create_task(store.deferred_clears.run(60))  # nothing falls due during the test
        await asyncio.sleep(0)
        document = new_ticket_document(ticket_id=str(ULID.from_timestamp(START.timestamp())), number="INC-000001",
                                       fields={"title": "export fails", "type": "data"},
                                       reporter={"id": "r1", "name": "R1"}, now=START, outbox=[])
        await store.insert(document)
        for n, severity in enumerate(["high", "low", "critical"]):  # as consumed events do: nothing owed
            at = START + timedelta(minutes=n + 1)
            entry = {"at": at, "actor": {"type": "system", "id": "triage", "name": "triage"}, "action": "triaged",
                     "detail": f"severity {severity}", "visibility": "internal"}
            assert await store.change(document["_id"], {}, {"severity": severity, "updated_at": at}, [entry], [],
                                      event_id=f"e{n}")
        assert clears(log) == 0 and (await db.tickets.find_one({"_id": document["_id"]}))[VIEWS_PENDING] >= 1
        deferring.cancel()  # the service stopping: what is owed is cleared
        await asyncio.gather(deferring, return_exceptions=True)
        assert clears(log) == 1
        assert VIEWS_PENDING not in await db.tickets.find_one({"_id": document["_id"]})
        live = {d["_id"]: d async for d in db[COLLECTION].find({})}
        await db[COLLECTION].delete_many({})
        await rebuild_views(store)
        assert {d["_id"]: d async for d in db[COLLECTION].find({})} == live
    finally:
        await client.drop_database(db_name)
        await client.close()
