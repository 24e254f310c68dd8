"""Triage through the real services: severity, tier, team and due times; duplicates grouped; growth raises."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta

import aio_pika
import httpx
import pytest
from pymongo import MongoClient

from shared.contracts import Severity
from shared.ids import new_id
from shared.messaging.topology import EVENTS_EXCHANGE
from tests.e2e.test_first_flow import wait_for_ticket
from tests.factories import triage_policy

pytestmark = pytest.mark.e2e

POLICY = triage_policy()  # the packaged rules, which the triage process runs with


def post(system, key: str, body: dict) -> dict:
    response = httpx.post(f"{system.url('intake')}/v1/tickets", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    return response.json()


def issue_reporter(system, admin_key: str, n: int) -> str:
    """Return a new reporter's API key, issued through the admin API."""
    response = httpx.post(f"{system.url('intake')}/v1/admin/keys", headers={"Authorization": f"Bearer {admin_key}"},
                          json={"role": "reporter", "name": f"Reporter {n}", "email": f"reporter{n}@example.com"})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("body", "severity", "tier", "team", "rule"),
    [
        ({"title": "Platform is down", "type": "infrastructure", "severity": "low",
          "description": "Nothing loads for anyone."}, "critical", 3, "senior-engineering", "critical-text"),
        ({"title": "Cannot log in", "type": "access", "severity": "high",
          "description": "The login page rejects me."}, "high", 1, "service-desk", "reporter"),
        ({"title": "Reports export lags", "type": "performance", "users_affected": 8,
          "description": "Exports take minutes for our team."}, "medium", 2, "technical-support", "medium-group"),
        ({"title": "Typo on the pricing page", "type": "feature", "severity": "high",
          "description": "A cosmetic typo in the footer."}, "low", 2, "technical-support", "low-text"),
        ({"title": "Payments fail at checkout", "type": "data", "workaround_available": False,
          "description": "The third-party payment provider rejects every card."}, "high", 4, "vendor-management",
         "high-no-workaround"),
    ],
)
def test_tickets_come_back_with_severity_routing_and_due_times(system, body, severity, tier, team, rule):
    key = system.create_key("reporter", "Ada Lovelace", "ada@example.com")
    created = post(system, key, {**body, "title": f"{body['title']} {new_id()[-6:].lower()}"})
    ticket = wait_for_ticket(system, key, created["number"], lambda t: t["sla"] is not None)
    assert (ticket["severity"], ticket["tier"], ticket["team"]) == (severity, tier, team)
    assert ticket["reported_severity"] == body.get("severity")
    assert ticket["triage"]["rule"] == rule and ticket["triage"]["reason"]
    expected = POLICY.sla.deadlines(Severity(severity), when(ticket["created_at"]))
    assert when(ticket["sla"]["acknowledge_due_at"]) == expected.acknowledge_due_at
    assert when(ticket["sla"]["response_due_at"]) == expected.response_due_at
    assert when(ticket["sla"]["resolution_due_at"]) == expected.resolution_due_at
    assert ticket["sla"]["response_target"] == POLICY.sla.allowances[Severity(severity)].response.describe()


async def probe(amqp_url: str, keys: tuple[str, ...]):
    """Return (connection, queue) for a throwaway queue bound to the given event types."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"probe.triage.{new_id()}", exclusive=True)
    for key in keys:
        await queue.bind(exchange, routing_key=key)
    return connection, queue


async def collect(queue, wanted: int, timeout: float = 40.0) -> list[dict]:
    """Return the first `wanted` messages (as envelopes) from the probe queue, polling until timeout."""
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(found) < wanted and time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        found.append(json.loads(message.body))
    return found


async def test_duplicates_are_grouped_and_growth_raises_the_primary(system, amqp_url):
    connection, queue = await probe(amqp_url, ("ticket.duplicate_detected", "ticket.reclassified"))
    try:
        key = system.create_key("reporter", "Ada Lovelace", "ada@example.com")
        title = f"Invoices page times out {new_id()[-6:].lower()}"
        body = {"type": "performance", "component": "billing", "description": "The invoices page never loads."}
        primary = await asyncio.to_thread(post, system, key, {**body, "title": title, "users_affected": 5})
        first = await asyncio.to_thread(
            wait_for_ticket, system, key, primary["number"], lambda t: t["sla"] is not None
        )
        assert first["severity"] == "medium"
        # the same reporter again, claiming 30 users: grouped, but it adds no one
        again = await asyncio.to_thread(
            post, system, key, {**body, "title": f"  {title.upper()}!", "users_affected": 30}
        )
        # fifteen other reporters (each claiming many users): one each, 5 + 15 = 20 users reaches High
        admin = system.create_key("admin", "Rita Admin", "rita@support.local")
        others = [issue_reporter(system, admin, n) for n in range(15)]
        duplicates = [await asyncio.to_thread(post, system, other, {**body, "title": title, "users_affected": 1000})
                      for other in others]
        duplicate = duplicates[-1]
        events = await collect(queue, 17)
    finally:
        await connection.close()

    detections = [e for e in events if e["event_type"] == "ticket.duplicate_detected"]
    raises = [e for e in events if e["event_type"] == "ticket.reclassified"]
    assert len(detections) == 16 and len(raises) == 1, events
    by_type = {"ticket.duplicate_detected": detections[-1], "ticket.reclassified": raises[0]}
    first_detection = next(e for e in detections if e["payload"]["duplicate_number"] == again["number"])
    assert (first_detection["payload"]["reports"], first_detection["payload"]["users_affected"]) == (2, 5)
    detected = by_type["ticket.duplicate_detected"]
    assert detected["ticket_id"] == primary["id"]
    assert detected["payload"]["primary_number"] == primary["number"]
    assert detected["payload"]["duplicate_number"] == duplicate["number"]
    assert (detected["payload"]["reports"], detected["payload"]["users_affected"]) == (17, 20)

    raised = by_type["ticket.reclassified"]["payload"]
    assert raised["ticket_id"] == primary["id"]
    assert (raised["old_severity"], raised["severity"]) == ("medium", "high")
    assert raised["trigger"] == "growth" and raised["escalation_trigger"] is True
    assert when(raised["old_response_due_at"]) == when(first["sla"]["response_due_at"])
    assert when(raised["old_resolution_due_at"]) == when(first["sla"]["resolution_due_at"])
    changed_at = when(raised["changed_at"])
    spent = changed_at - when(first["created_at"])
    assert when(raised["resolution_due_at"]) == changed_at + max(timedelta(hours=8) - spent, timedelta(0))
    assert when(raised["resolution_due_at"]) < when(raised["old_resolution_due_at"])

    with MongoClient(system.mongodb_url, tz_aware=True) as client:
        db = client[system.mongodb_db]
        group = db.triage_fingerprints.find_one({"primary_ticket_id": primary["id"]})
        assert group["reports"] == 17 and group["users_affected"] == 20
        members = db.triage_fingerprint_members.find({"primary_ticket_id": primary["id"]})
        assert sorted(m["ticket_id"] for m in members) == sorted([primary["id"], again["id"],
                                                                   *(d["id"] for d in duplicates)])
        record = db.triage_records.find_one({"_id": primary["id"]})
        assert record["severity"] == "high"
        assert record["deadlines"]["resolution_due_at"] == when(raised["resolution_due_at"])
        assert [c["trigger"] for c in record["changes"]] == ["growth"]

    # the duplicate itself is triaged like any ticket
    second = await asyncio.to_thread(
        wait_for_ticket, system, others[-1], duplicate["number"], lambda t: t["sla"] is not None
    )
    assert second["severity"] == "critical", "its own claim of 1,000 users decides its own severity"

    # intake shows the grouping and the raise on the tickets themselves
    # (escalation owns the clocks: the new due times arrive as its sla.clock_changed, just after the raise)
    grown = await asyncio.to_thread(
        wait_for_ticket, system, key, primary["number"],
        lambda t: t["severity"] == "high" and t.get("group")
        and any(e["action"] == "sla_clock_retargeted" and e["data"]["target"] == "resolution" for e in t["timeline"])
    )
    assert grown["group"] == {"reports": 17, "users_affected": 20}
    assert when(grown["sla"]["resolution_due_at"]) == when(raised["resolution_due_at"])
    entry = next(e for e in grown["timeline"] if e["action"] == "reclassified")
    assert "medium → high" in entry["detail"]
    retargeted = next(e for e in grown["timeline"] if e["action"] == "sla_clock_retargeted"
                      and e["data"]["target"] == "resolution")
    assert "resolution now due" in retargeted["detail"]
    agent = system.create_key("agent", "Ann Agent", "ann@support.local")
    linked = await asyncio.to_thread(
        wait_for_ticket, system, agent, duplicate["number"], lambda t: t.get("duplicate_of") is not None
    )
    assert linked["duplicate_of"]["number"] == primary["number"], "support staff see the link"
    seen_by_reporter = await asyncio.to_thread(wait_for_ticket, system, others[-1], duplicate["number"], lambda t: True)
    assert seen_by_reporter.get("duplicate_of") is None, "a reporter never learns another reporter's ticket"
