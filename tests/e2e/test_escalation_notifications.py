"""Escalation's notifications end to end: real tiers move, the reporter and the teams get their e-mails,
and escalation's /metrics counts what fired.

SLA breaches happen without waiting: once escalation has started a ticket's response clock, the test
(which owns its database) rewrites that clock as already overdue (no active time left, due in the past)
and bumps the revision like any writer, scheduling it first as escalation's store does; the timer
loop then fires the warnings and the breach.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from bench.system import wait_until
from shared.persistence import make_client
from shared.schedule import Schedule
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clocks(system, mongodb_url):
    with MongoClient(mongodb_url, tz_aware=True) as client:
        yield client[system.mongodb_db]["sla_clocks"]


def schedule_now(system, ticket_id: str, now: datetime) -> None:
    """Put the clock into escalation's timing wheel as due now (write-ahead, before the document changes)."""

    async def add() -> None:
        client = make_client(system.mongodb_url)
        try:
            await Schedule(client[system.mongodb_db], "sla_clocks").add(ticket_id, now, now)
        finally:
            await client.close()

    asyncio.run(add())


@pytest.fixture(scope="module")
def ada(system) -> Api:
    return Api(system.url("intake"), system.create_key("reporter", "Ada Lovelace", "ada@example.com"))


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def sent_to(address: str, subject_part: str):
    """Return a mailbox predicate: a message to address whose subject contains subject_part."""
    return lambda m: address in str(m["To"]) and subject_part in str(m["Subject"])


def escalation_metrics(system) -> dict[tuple[str, tuple], float]:
    text = httpx.get(system.url("escalation") + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_production_ticket_at_tier_1_escalates_and_the_reporter_gets_the_2_hour_promise(system, mailbox, ada):
    box, _ = mailbox
    created = ada.report(title="Cannot log in to the shop", type="access", production=True, users_affected=1,
                         description="The login page rejects my password on the live shop.")
    number = created["number"]
    ticket = ada.wait_for(number, lambda t: t.get("tier") == 2, timeout=60)
    assert ticket["team"] == "technical-support"
    mail = box.wait_for(sent_to("ada@example.com", f"Your ticket {number} was escalated"), timeout=60)
    text = text_of(mail)
    assert "from Tier 1 to Tier 2 (technical-support)" in text and "the production environment is affected" in text
    assert "will contact you within 2 hours" in text
    page = box.wait_for(sent_to("oncall-technical-support@platform.local", f"PAGE {number}"), timeout=60)
    assert "as on_call of technical-support" in text_of(page)
    samples = wait_until(lambda: (s := escalation_metrics(system)) and sample(
        s, "incidents_escalations_total", from_tier="1", to_tier="2", reason="production") and s,
        "the production escalation on escalation's /metrics")
    assert sample(samples, "incidents_escalations_total", from_tier="1", to_tier="2", reason="production") == 1


def test_an_overdue_response_clock_warns_breaches_mails_the_lead_and_escalates(system, mailbox, ada, clocks):
    box, _ = mailbox
    created = ada.report(title="Export fails", type="data", users_affected=1,
                         description="CSV export returns 500 for every report.")
    number, ticket_id = created["number"], created["id"]
    ticket = ada.wait_for(number, lambda t: t.get("tier") == 2, timeout=60)
    severity = ticket["severity"]
    wait_until(lambda: (doc := clocks.find_one({"_id": ticket_id})) and doc["clocks"].get("response", {}).get(
        "state") == "running", "escalation started the response clock")
    now = datetime.now(UTC)
    schedule_now(system, ticket_id, now)
    clocks.update_one({"_id": ticket_id}, {"$set": {
        "clocks.response.anchor_at": now - timedelta(minutes=1), "clocks.response.remaining_seconds": 0.0,
        "clocks.response.due_at": now - timedelta(minutes=1), "next_due_at": now - timedelta(minutes=1),
    }, "$inc": {"rev": 1}})

    breach = box.wait_for(sent_to("lead-technical-support@platform.local", "SLA breached"), timeout=60)
    assert number in str(breach["Subject"]) and "missed its first response target" in text_of(breach)
    escalated = box.wait_for(sent_to("ada@example.com", f"Your ticket {number} was escalated"), timeout=60)
    assert "from Tier 2 to Tier 3 (senior-engineering)" in text_of(escalated)
    assert "will contact you within 2 hours" in text_of(escalated)
    ada.wait_for(number, lambda t: t.get("tier") == 3, timeout=60)

    samples = wait_until(lambda: (s := escalation_metrics(system)) and sample(
        s, "incidents_sla_breaches_total", severity=severity, target="response") and s,
        "the breach on escalation's /metrics")
    assert sample(samples, "incidents_sla_breaches_total", severity=severity, target="response") == 1
    assert sample(samples, "incidents_sla_warnings_total", severity=severity, target="response") == 2  # 75 %, 90 %
    assert sample(samples, "incidents_escalations_total", from_tier="2", to_tier="3", reason="response_breached") == 1
    assert sample(samples, "incidents_timer_lateness_seconds_count", timer="response_breach") == 1
    assert sample(samples, "incidents_timer_lateness_seconds_sum", timer="response_breach") >= 60
    assert sample(samples, "incidents_sla_breaches_total", severity="low", target="handoff") == 0  # primed
