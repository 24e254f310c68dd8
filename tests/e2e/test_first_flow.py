"""The first ticket through all four services, as a user would drive it."""

from __future__ import annotations

import httpx
import pytest

from bench.system import wait_until
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


def wait_for_ticket(system, key, number, predicate, timeout=30.0) -> dict:
    """Poll GET /v1/tickets/{number} until predicate(ticket) holds; return the ticket."""
    return Api(system.url("intake"), key).wait_for(number, predicate, timeout)


def wait_for_document(system, collection: str, document_id: str, predicate=lambda d: True,
                      timeout: float = 30.0) -> dict:
    """Poll the database until a document exists and predicate(document) holds; return it."""
    from pymongo import MongoClient

    with MongoClient(system.mongodb_url, tz_aware=True) as client:
        found = client[system.mongodb_db][collection]
        return wait_until(lambda: (d := found.find_one({"_id": document_id})) is not None and predicate(d) and d,
                          f"{collection} {document_id} as expected", timeout)


def test_reported_ticket_is_triaged_clocked_and_acknowledged_by_email(system, mailbox):
    box, _ = mailbox
    key = system.create_key("reporter", "Ada Lovelace", "ada@example.com")
    response = httpx.post(
        f"{system.url('intake')}/v1/tickets",
        json={"title": "Checkout is very slow", "type": "performance", "severity": "medium",
              "description": "Pages take 20 s to load since this morning."},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    assert number.startswith("INC-")

    ticket = wait_for_ticket(system, key, number, lambda t: t["sla"] is not None)
    assert ticket["severity"] == "medium" and ticket["tier"] == 2 and ticket["team"] == "technical-support"
    assert ticket["sla"]["response_target"] == "4 hours"
    assert ticket["sla"]["response_due_at"] > ticket["created_at"]

    mail = box.wait_for(lambda m: number in (m["Subject"] or ""))
    assert mail["To"] == "ada@example.com"
    assert mail["X-Ticket-Number"] == number
    assert "4 hours" in mail.get_payload(0).get_payload(decode=True).decode()

    ticket = wait_for_ticket(system, key, number, lambda t: any(e["action"] == "notification_sent" for e in t["timeline"]))
    assert [e["action"] for e in ticket["timeline"]][:2] == ["reported", "triaged"]

    # ticket.reported may create the clock record before ticket.triaged arrives
    clock = wait_for_document(system, "sla_clocks", ticket["id"], lambda d: d.get("triaged"), timeout=45)
    assert clock["severity"] == "medium"
    assert clock["clocks"]["response"]["due_at"].isoformat().startswith(ticket["sla"]["response_due_at"][:19])


def test_every_service_serves_metrics_health_and_readiness(system):
    for service in ("intake", "triage", "escalation", "notifier"):
        assert httpx.get(system.url(service) + "/healthz").json()["status"] == "ok"
        ready = httpx.get(system.url(service) + "/readyz").json()
        assert ready["checks"] == {"database": "ok", "broker": "ok"}
        metrics = httpx.get(system.url(service) + "/metrics")
        assert metrics.status_code == 200
        assert "incidents_messages_handled_total" in metrics.text


def test_api_calls_need_a_valid_key(system):
    response = httpx.post(f"{system.url('intake')}/v1/tickets", json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_another_reporters_ticket_is_not_found(system):
    ada = system.create_key("reporter", "Ada", "ada@example.com")
    bob = system.create_key("reporter", "Bob", "bob@example.com")
    created = httpx.post(
        f"{system.url('intake')}/v1/tickets",
        json={"title": "Cannot log in", "type": "access", "description": "Locked out"},
        headers={"Authorization": f"Bearer {ada}"},
    ).json()
    response = httpx.get(f"{system.url('intake')}/v1/tickets/{created['number']}", headers={"Authorization": f"Bearer {bob}"})
    assert response.status_code == 404
