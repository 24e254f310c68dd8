"""On-call configuration, acknowledge links and hand-off notices on the real database: one compare-and-set per
change (nothing half-saved, nothing lost between two writers), a link acknowledges once however many clicks race,
and a shift start is announced once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.adapters.oncall_handoffs import MongoHandoffs
from services.escalation.adapters.oncall_models import PersonModel, ScheduleModel
from services.escalation.adapters.oncall_store import MongoOnCallStore
from services.escalation.service_layer import oncall_config as changes
from services.escalation.service_layer.oncall_catalog import OnCallCatalog, OnCallProblem
from services.intake.adapters.tickets import MongoTickets, unpacked
from services.intake.domain.actions import ActionRefused, acknowledge_page
from services.intake.service_layer.commands import perform_retrying, report_ticket
from shared.clock import FakeClock
from shared.contracts.lifecycle_events import Actor
from tests.oncall_builders import senior_file

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)


def person(person_id: str) -> PersonModel:
    return PersonModel(id=person_id, name=person_id.title(), email=f"{person_id}@example.com", time_zone="UTC")


async def test_changes_are_stored_whole_and_a_refused_one_stores_nothing(db):
    catalog = OnCallCatalog(MongoOnCallStore(db), senior_file(), cache_seconds=0)
    await changes.put_person(catalog, person("olga"), by="admin:1", now=NOW)
    before = await db.oncall.find_one({"_id": "config"})
    schedule = ScheduleModel.model_validate({"id": "ops", "team": "ops", "layers": [{"rotation": {
        "id": "r", "participants": ["olga", "zed"], "shift": {"days": 1}, "start": "2026-01-05T09:00:00Z"}}]})
    with pytest.raises(OnCallProblem, match="no person 'zed'"):
        await changes.put_schedule(catalog, schedule, by="admin:1", now=NOW)
    assert await db.oncall.find_one({"_id": "config"}) == before
    assert before["rev"] == 1 and before["updated_by"] == "admin:1"
    assert [p["id"] for p in before["content"]["people"]] == ["olga"]


async def test_two_processes_changing_at_once_both_land(db):
    first = OnCallCatalog(MongoOnCallStore(db), senior_file(), cache_seconds=0)
    second = OnCallCatalog(MongoOnCallStore(db), senior_file(), cache_seconds=0)
    names = [f"p{n}" for n in range(8)]
    await asyncio.gather(*(changes.put_person(catalog, person(name), by="admin:1", now=NOW)
                           for catalog, name in zip([first, second] * 4, names)))
    stored = await db.oncall.find_one({"_id": "config"})
    assert sorted(p["id"] for p in stored["content"]["people"]) == names and stored["rev"] == 8
    assert sorted((await second.snapshot()).config.people) == sorted([*names, "ada", "bob", "cy", "dee", "eve"])


async def test_a_link_acknowledges_once_however_many_clicks_race(db):
    clock = FakeClock(NOW)
    stored = await report_ticket({"title": "Platform is down", "type": "infrastructure", "description": "all"},
                                 {"id": "r1", "name": "Rita", "email": "rita@example.com"},
                                 tickets=MongoTickets(db), clock=clock, prefix="INC")
    ada = Actor(type="agent", id="person.ada", name="Ada Lovelace")
    bob = Actor(type="agent", id="person.bob", name="Bob Stone")

    async def click(actor: Actor, token_id: str):
        tickets = MongoTickets(db)  # each click as if in its own process: only the database decides
        ticket = await tickets.get(stored["_id"])
        try:
            await perform_retrying(ticket, lambda current, now: acknowledge_page(
                current, actor, now, page_id="p1", step="step.0.0", token_id=token_id), tickets=tickets, clock=clock)
            return "acknowledged"
        except ActionRefused as exc:
            return str(exc)

    results = await asyncio.gather(*(click(ada, "t-ada") for _ in range(4)), *(click(bob, "t-bob") for _ in range(4)))
    assert results.count("acknowledged") == 1, results
    after = unpacked(await db.tickets.find_one({"_id": stored["_id"]}))
    assert len(after["page_acknowledgements"]) == 1 and len(after["ack_links_used"]) == 1
    assert [e["event_type"] for e in after["outbox"]].count("ticket.page_acknowledged") == 1
    assert [e["action"] for e in after["timeline"]].count("page_acknowledged") == 1


async def test_a_shift_start_is_recorded_once_and_the_cursor_moves_by_compare_and_set(db):
    records = MongoHandoffs(db)
    assert await records.cursor() is None
    assert await records.move_cursor(None, NOW) and not await records.move_cursor(None, NOW)
    assert await records.move_cursor(NOW, NOW + timedelta(minutes=1))
    assert not await records.move_cursor(NOW, NOW + timedelta(minutes=2)), "another process moved it first"
    assert await records.cursor() == NOW + timedelta(minutes=1)
    envelope = {"event_id": "e1", "event_type": "oncall.shift_started", "payload": {}}
    assert await records.record("senior|bob|x", envelope, NOW) is not None
    assert await records.record("senior|bob|x", envelope, NOW) is None
