"""Alerts in on the real database: concurrent requests for one source key open one ticket, repeats change
nothing, separate processes (separate locks) are kept apart by the records' compare-and-set, and every
lookup is by `_id`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from services.intake.adapters.integrations import MongoIntegrations
from services.intake.adapters.source_records import ALERT_GROUPS, MongoSourceRecords
from services.intake.adapters.tickets import MongoTickets
from services.intake.domain.alert_groups import Alert, Notification
from services.intake.domain.events_v2 import parse_event
from services.intake.domain.integrations import Integration, Kind
from services.intake.service_layer.alerts import AlertsIn, receive_event, receive_notification
from shared.clock import SystemClock
from shared.ids import new_id
from shared.locks import KeyedLocks
from tests.command_log import CommandLog

pytestmark = pytest.mark.integration
AM = Integration(id=new_id(), kind=Kind.ALERTMANAGER, name="checkout-prometheus", team="technical-support")
PD = Integration(id=new_id(), kind=Kind.EVENTS_V2, name="grafana", team="technical-support")
T0 = datetime.now(UTC)


def notification(*fingerprints: str, status="firing") -> Notification:
    alerts = tuple(Alert(fingerprint=f, status=status, labels=(("alertname", "CheckoutDown"), ("instance", f)),
                         annotations=(("summary", "Checkout is down"),), starts_at=T0) for f in fingerprints)
    return Notification(group_key='{}:{alertname="CheckoutDown"}', receiver="incidents",
                        common_labels=(("alertname", "CheckoutDown"), ("severity", "critical")), alerts=alerts)


def intake(db, locks: KeyedLocks | None = None) -> AlertsIn:
    """One intake process's view of the stores (each process has its own locks)."""
    return AlertsIn(MongoSourceRecords(db, ALERT_GROUPS), MongoTickets(db), SystemClock(), "INC", locks or KeyedLocks())


async def test_concurrent_notifications_from_two_processes_open_one_ticket(db):
    processes = [intake(db), intake(db)]  # separate locks: only the records' claim and compare-and-set keep them apart
    outcomes = await asyncio.gather(*(receive_notification(AM, notification(f"{n:04x}"), processes[n % 2])
                                      for n in range(12)))
    tickets = [t async for t in db["tickets"].find({})]
    assert len(tickets) == 1, [t["number"] for t in tickets]
    assert {o.ticket["_id"] for o in outcomes} == {tickets[0]["_id"]}
    group = await db[ALERT_GROUPS].find_one({})
    assert len(group["alerts"]) == 12, "every alert of every concurrent notification is kept"
    assert tickets[0]["source"]["alerts_total"] in range(1, 13)


async def test_the_same_notification_twice_changes_neither_the_record_nor_the_ticket(db):
    d = intake(db)
    first = await receive_notification(AM, notification("aa01", "aa02"), d)
    ticket = await db["tickets"].find_one({"_id": first.ticket["_id"]})
    group = await db[ALERT_GROUPS].find_one({})
    again = await receive_notification(AM, notification("aa01", "aa02"), d)
    assert again.action == "unchanged"
    assert await db["tickets"].find_one({"_id": first.ticket["_id"]}) == ticket
    assert await db[ALERT_GROUPS].find_one({}) == group


async def test_resolve_then_fire_again_reopens_the_same_ticket(db):
    d = intake(db)
    opened = await receive_notification(AM, notification("bb01"), d)
    resolved = await receive_notification(AM, notification("bb01", status="resolved"), d)
    assert resolved.ticket["status"] == "resolved" and resolved.ticket["source"]["state"] == "resolved"
    refire = Notification(group_key='{}:{alertname="CheckoutDown"}', alerts=(
        Alert(fingerprint="bb01", status="firing", starts_at=datetime.now(UTC)),))
    reopened = await receive_notification(AM, refire, d)
    assert reopened.action == "reopen" and reopened.ticket["_id"] == opened.ticket["_id"]
    assert reopened.ticket["status"] == "in_progress"
    assert await db["tickets"].count_documents({}) == 1


async def test_a_storm_of_triggers_on_one_dedup_key_from_two_processes_counts_every_one(db):
    processes = [intake(db), intake(db)]
    trigger = parse_event({"routing_key": "k", "event_action": "trigger", "dedup_key": "cpu-web1",
                           "payload": {"summary": "CPU high on web1", "source": "web1", "severity": "error"}})
    await asyncio.gather(*(receive_event(PD, trigger, processes[n % 2]) for n in range(30)))
    group = await db[ALERT_GROUPS].find_one({})
    assert group["events"] == 30 and await db["tickets"].count_documents({}) == 1


class Deferred:
    """Runs each deferred note as its own task, as intake does after answering (they may finish in any order)."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task] = []

    def __call__(self, work) -> None:
        self.tasks.append(asyncio.ensure_future(work()))

    async def drain(self) -> None:
        while self.tasks:
            await self.tasks.pop(0)


async def test_repeats_arriving_while_the_key_s_ticket_is_created_are_answered_and_noted_after_it(db):
    deferred = Deferred()
    processes = [intake(db), intake(db)]
    for process in processes:
        process.defer = deferred
    trigger = parse_event({"routing_key": "k", "event_action": "trigger", "dedup_key": "disk-db1",
                           "payload": {"summary": "Disk full on db1", "source": "db1", "severity": "critical"}})
    outcomes = await asyncio.gather(*(receive_event(PD, trigger, processes[n % 2]) for n in range(50)))
    await deferred.drain()
    group = await db[ALERT_GROUPS].find_one({})
    tickets = [t async for t in db["tickets"].find({})]
    assert group["events"] == 50 and len(tickets) == 1, "every trigger counted, one ticket"
    assert {o.ticket["number"] for o in outcomes} == {tickets[0]["number"]}, "each answer names the ticket"
    # counts are noted at 2, 5, 10, 20, 50: the notes, in whatever order they ran, end at the last count
    assert tickets[0]["source"]["events"] == 50


def lookups(log: CommandLog) -> list[tuple[str, dict]]:
    """Return (collection, filter) of every find and findAndModify the log holds."""
    return [(command.get(name), dict(command.get("filter") or command.get("query") or {}))
            for name, command in log.commands if name in ("find", "findAndModify")]


async def test_every_lookup_on_the_alert_path_is_by_id(mongodb_url, db_name):
    log = CommandLog()
    watched = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[log])
    try:
        db = watched[db_name]
        store = MongoIntegrations(db)
        integration = Integration(id=new_id(), kind=Kind.EVENTS_V2, name="zabbix", team="technical-support")
        key = await store.create(integration)
        log.commands.clear()
        found = await store.by_key(key)
        assert found.id == integration.id
        trigger = parse_event({"routing_key": key, "event_action": "trigger", "dedup_key": "disk",
                               "payload": {"summary": "disk full", "source": "db1", "severity": "critical"}})
        d = intake(db)
        for _ in range(3):
            await receive_event(found, trigger, d)
        await receive_event(found, parse_event({"routing_key": key, "event_action": "resolve", "dedup_key": "disk"}), d)
        collections = {"integrations", "integration_keys", ALERT_GROUPS, "tickets"}
        ours = [(c, f) for c, f in lookups(log) if c in collections]
        assert ours and all(set(f) - {"rev", "state", "status", "source.state"} == {"_id"} for _, f in ours), ours
    finally:
        await watched.drop_database(db_name)
        await watched.close()
