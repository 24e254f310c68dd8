"""Two replicas of every service, one of each killed -9 midway: nothing is lost, nothing happens twice.

Fifty tickets go in through intake's shared port (SO_REUSEPORT: either replica may answer), half
before and half after one replica of each service is killed. Both escalation replicas race for
clocks the test makes overdue (before the kill and after), and the dead replicas' unacknowledged
messages and leases pass to the survivors. Then every accepted ticket is triaged once and
acknowledged by one e-mail, every overdue clock breached once, and no dead letter was needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import MongoClient

from bench.chaos import dead_letters
from bench.system import System, wait_until
from services.intake.adapters.tickets import unpacked
from shared.ids import new_id
from shared.persistence import make_client
from shared.schedule import Schedule

pytestmark = pytest.mark.e2e

TICKETS = 50
MADE_OVERDUE = 8
"""Tickets of each half whose response clock the test makes overdue, so both halves fire SLA steps."""
BREACH = "response.0.breached"
ACKNOWLEDGED = "We received your report"


@pytest.fixture(scope="module")
def system(amqp_url, mongodb_url, mailbox, tmp_path_factory) -> Iterator[System]:
    """Two processes of each service on shared ports, with short leases so the dead replica's work moves soon."""
    _, smtp_port = mailbox
    db_name = f"incidents_e2e_{new_id().lower()[-12:]}"
    system = System(amqp_url, mongodb_url, db_name, smtp_port, tmp_path_factory.mktemp("logs"), replicas=2,
                    extra_env={"TIMER_LEASE_SECONDS": "10", "DELIVERY_LEASE_SECONDS": "20",
                               "SMTP_TIMEOUT_SECONDS": "5", "WEBHOOK_TIMEOUT_SECONDS": "5"})
    try:
        system.start_all()
        yield system
    finally:
        system.stop_all()
        with MongoClient(mongodb_url) as client:
            client.drop_database(db_name)


@pytest.fixture(scope="module")
def db(system, mongodb_url):
    with MongoClient(mongodb_url, tz_aware=True) as client:
        yield client[system.mongodb_db]


def report(client: httpx.Client, i: int) -> dict:
    """Post ticket i until intake answers 201 (the same Idempotency-Key on every try); return the ticket."""
    body = {"title": f"Replica report {i}", "type": "data", "description": "Sync fails for every account."}
    for _ in range(240):
        try:
            response = client.post("/v1/tickets", json=body, headers={"Idempotency-Key": f"replicas-{i}"})
            if response.status_code == 201:
                return response.json()
            assert response.status_code < 500, response.text  # a replica going away may cost a retry, never a 5xx
        except httpx.HTTPError:
            pass  # the connection's replica was killed: the next try reaches the other one
        time.sleep(0.25)
    raise AssertionError(f"ticket {i} was never accepted")


def make_overdue(system: System, db, ticket_ids: list[str]) -> None:
    """Once escalation runs their response clocks, make them a minute overdue (scheduled first, as writers do)."""
    clocks = db["sla_clocks"]
    for ticket_id in ticket_ids:
        wait_until(lambda t=ticket_id: (doc := clocks.find_one({"_id": t})) and doc["clocks"].get(
            "response", {}).get("state") == "running", f"escalation started the response clock of {ticket_id}", 120)
    now = datetime.now(UTC)

    async def schedule() -> None:
        client = make_client(system.mongodb_url)
        try:
            await Schedule(client[system.mongodb_db], "sla_clocks").add_many([(t, now) for t in ticket_ids], now)
        finally:
            await client.close()

    asyncio.run(schedule())
    late = now - timedelta(minutes=1)
    for ticket_id in ticket_ids:
        clocks.update_one({"_id": ticket_id}, {"$set": {
            "clocks.response.anchor_at": late, "clocks.response.remaining_seconds": 0.0,
            "clocks.response.due_at": late, "next_due_at": late}, "$inc": {"rev": 1}})


def acknowledgements(box) -> Counter:
    """Return, per ticket number, how many different acknowledgement e-mails were received (by Message-ID)."""
    seen: dict[str, set[str]] = {}
    for message in box.messages():
        subject = str(message["Subject"])
        if ACKNOWLEDGED in subject and subject.startswith("["):
            seen.setdefault(subject[1:subject.index("]")], set()).add(str(message["Message-ID"]))
    return Counter({number: len(ids) for number, ids in seen.items()})


def test_two_replicas_each_survive_losing_one_mid_load(system, mailbox, db):
    box, _ = mailbox
    key = system.create_key("reporter", "Rep Lica", "replica@example.com")
    accepted: list[dict] = []
    with httpx.Client(base_url=system.url("intake"), headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        accepted += [report(client, i) for i in range(TICKETS // 2)]
        make_overdue(system, db, [t["id"] for t in accepted[:MADE_OVERDUE]])  # both escalation replicas race for them
        for service in ("intake", "triage", "escalation", "notifier"):
            system.kill(f"{service}-2")  # SIGKILL: whatever it held unacknowledged or leased must move on
        accepted += [report(client, i) for i in range(TICKETS // 2, TICKETS)]
    make_overdue(system, db, [t["id"] for t in accepted[TICKETS // 2:TICKETS // 2 + MADE_OVERDUE]])

    numbers = [t["number"] for t in accepted]
    assert len(set(numbers)) == TICKETS, "one ticket per Idempotency-Key, whichever replica answered"

    def settled_tickets() -> dict | None:
        tickets = {t["number"]: unpacked(t) for t in db.tickets.find({}, {"number": 1, "timeline": 1, "severity": 1})}
        return tickets if all(tickets.get(n, {}).get("severity") for n in numbers) else None

    tickets = wait_until(settled_tickets, "every accepted ticket triaged", timeout=240, interval=1)
    triaged = {n: sum(e["action"] == "triaged" for e in tickets[n]["timeline"]) for n in numbers}
    assert set(triaged.values()) == {1}, {n: c for n, c in triaged.items() if c != 1}

    acks = wait_until(lambda: (a := acknowledgements(box)) and all(n in a for n in numbers) and a,
                      lambda: f"an acknowledgement for every ticket; missing {set(numbers) - set(acknowledgements(box))}",
                      timeout=240, interval=1)
    assert {n: acks[n] for n in numbers if acks[n] != 1} == {}, "one acknowledgement e-mail per ticket"
    assert set(acks) == set(numbers), "no acknowledgement for a ticket nobody reported"

    overdue = [t["id"] for t in accepted[:MADE_OVERDUE] + accepted[TICKETS // 2:TICKETS // 2 + MADE_OVERDUE]]
    clocks = wait_until(lambda: (found := {d["_id"]: d for d in db.sla_clocks.find({"_id": {"$in": overdue}})})
                        and all(BREACH in d["fired"] for d in found.values()) and len(found) == len(overdue) and found,
                        "every overdue response clock breached", timeout=180, interval=1)
    assert all(clock["fired"].count(BREACH) == 1 for clock in clocks.values())
    repeated = {d["_id"]: d["fired"] for d in db.sla_clocks.find({}, {"fired": 1})
                if len(d.get("fired", [])) != len(set(d.get("fired", [])))}
    assert repeated == {}, "no SLA step fired twice"
    assert dead_letters(system.amqp_url) == [], "nothing needed a dead-letter queue"
