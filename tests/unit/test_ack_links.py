"""One-click acknowledge links: signed for one ticket, page, step and person; expiring; used once; a GET changes
nothing. Each attack below is performed against the real code: altered, forged, re-purposed, expired and
replayed links, and a mail scanner following the link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.intake.domain.actions import ActionRefused, acknowledge_page
from services.intake.entrypoints import ack_page
from services.intake.entrypoints.auth import FailedAuthentications
from services.intake.service_layer.commands import report_ticket
from services.intake.settings import IntakeSettings
from shared.ack_links import AckGrant, AckLinks, ExpiredLink, issue, read
from shared.clock import FakeClock
from shared.contracts.lifecycle_events import Actor
from shared.problems import install_problem_handlers
from shared.signed_tokens import BadToken, sign
from tests.fakes import FakeTickets

SECRET = "unit-test-ack-secret-0123456789"
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
LINKS = AckLinks("http://intake.test", SECRET, timedelta(hours=12))
ADA = Actor(type="agent", id="person.ada", name="Ada Lovelace")


def grant(**changes) -> AckGrant:
    values = dict(token_id="t1", ticket_id="T1", number="INC-000001", page_id="T1-p1", step="step.0.0",
                  person="person.ada", name="Ada Lovelace", expires_at=NOW + timedelta(hours=1))
    return AckGrant(**{**values, **changes})


def test_a_token_reads_back_as_its_grant():
    assert read(issue(grant(), SECRET), SECRET, NOW) == grant(expires_at=NOW + timedelta(hours=1))


@pytest.mark.parametrize("attack", ["altered claims", "other secret", "other purpose", "cut mac", "garbage", "empty"])
def test_forged_altered_or_repurposed_tokens_are_refused(attack):
    token = issue(grant(), SECRET)
    body, mac = token.split(".")
    forged = {
        "altered claims": issue(grant(person="person.mallory"), SECRET).split(".")[0] + "." + mac,
        "other secret": issue(grant(), "another-secret-0123456789"),
        "other purpose": sign("oncall-feed", {"kind": "schedule", "ref": "x"}, SECRET),
        "cut mac": f"{body}.{mac[:10]}",
        "garbage": "a.b",
        "empty": "",
    }[attack]
    with pytest.raises(BadToken):
        read(forged, SECRET, NOW)


def test_an_expired_token_is_refused_as_expired():
    with pytest.raises(ExpiredLink, match="expired at 2026-01-05 10:00 UTC"):
        read(issue(grant(), SECRET), SECRET, NOW + timedelta(hours=1))


def test_links_carry_their_own_id_and_expire_after_the_ttl():
    first = LINKS.url(ticket_id="T1", number="INC-000001", page_id="p", step=None, person="person.ada", name="Ada",
                      now=NOW)
    second = LINKS.url(ticket_id="T1", number="INC-000001", page_id="p", step=None, person="person.ada", name="Ada",
                       now=NOW)
    a, b = (read(u.removeprefix("http://intake.test/ack/"), SECRET, NOW) for u in (first, second))
    assert a.token_id != b.token_id and a.expires_at == NOW + timedelta(hours=12)


def ticket(status: str = "open", **extra) -> dict:
    return {"_id": "T1", "number": "INC-000001", "title": "Platform is down", "status": status, "severity": "critical",
            "tier": 3, "team": "senior-engineering", "reporter": {"id": "r1", "name": "Rita"}, "timeline": [],
            "first_response_at": None, **extra}


def test_acknowledging_a_page_is_the_first_response_and_stops_the_chain():
    update = acknowledge_page(ticket(), ADA, NOW, page_id="T1-p1", step="step.0.0", token_id="t1")
    assert update.fields["first_response_at"] == NOW and update.fields["status"] == "in_progress"
    assert [e.EVENT_TYPE for e in update.events] == ["ticket.status_changed", "ticket.acknowledged",
                                                     "ticket.page_acknowledged"]
    assert update.events[-1].person_id == "person.ada" and update.events[-1].actor.name == "Ada Lovelace"
    assert update.condition == {"status": "open", "ack_links_used": {"$ne": "t1"},
                                "page_acknowledgements.page_id": {"$ne": "T1-p1"}}


@pytest.mark.parametrize("state, message", [
    (ticket(ack_links_used=["t1"]), "already used"),
    (ticket(page_acknowledgements=[{"page_id": "T1-p1", "name": "Bob", "at": NOW}]), "already acknowledged by Bob"),
    (ticket("closed"), "closed"),
], ids=["link used", "page acknowledged by someone else", "ticket closed"])
def test_a_used_link_an_acknowledged_page_or_a_closed_ticket_acknowledges_nothing(state, message):
    with pytest.raises(ActionRefused, match=message):
        acknowledge_page(state, ADA, NOW, page_id="T1-p1", step=None, token_id="t1")


@pytest.fixture
async def intake():
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(ack_page.router)
    app.state.settings = IntakeSettings(ack_link_secret=SECRET)
    app.state.clock = FakeClock(NOW)
    app.state.tickets = FakeTickets()
    app.state.auth_failures = FailedAuthentications(3, 60.0)
    stored = await report_ticket({"title": "Platform is down", "type": "infrastructure", "description": "all of it"},
                                 {"id": "r1", "name": "Rita", "email": "rita@example.com"},
                                 tickets=app.state.tickets, clock=app.state.clock, prefix="INC")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as client:
        yield client, app, stored


def link(stored, person="person.ada", page="p1", now=NOW) -> str:
    url = LINKS.url(ticket_id=stored["_id"], number=stored["number"], page_id=page, step="step.0.0", person=person,
                    name="Ada Lovelace", now=now)
    return url.removeprefix("http://intake.test")


async def test_following_the_link_changes_nothing_and_asks_to_confirm(intake):
    client, app, stored = intake
    path = link(stored)
    for _ in range(3):  # a mail scanner, a link preview, the person
        shown = await client.get(path, headers={"Accept": "text/html"})
        assert shown.status_code == 200 and '<form method="post"' in shown.text and "Acknowledge as Ada" in shown.text
    after = app.state.tickets.documents[stored["_id"]]
    assert after["status"] == "open" and after["first_response_at"] is None and len(after["outbox"]) == 1
    facts = (await client.get(path)).json()
    assert facts["can_acknowledge"] is True and facts["number"] == stored["number"]


async def test_confirming_acknowledges_once_and_records_who(intake):
    client, app, stored = intake
    path = link(stored)
    done = await client.post(path)
    assert done.status_code == 200 and done.json()["by"] == "Ada Lovelace"
    after = app.state.tickets.documents[stored["_id"]]
    assert after["first_response_at"] == NOW and after["status"] == "in_progress"
    assert any(e["action"] == "page_acknowledged" and e["actor"]["id"] == "person.ada" for e in after["timeline"])
    assert [e["event_type"] for e in after["outbox"]][-1] == "ticket.page_acknowledged"
    replay = await client.post(path)
    assert replay.status_code == 409 and "already used" in replay.json()["detail"]
    other = await client.post(link(stored, person="person.bob"))
    assert other.status_code == 409 and "already acknowledged by Ada Lovelace" in other.json()["detail"]
    assert len(app.state.tickets.documents[stored["_id"]]["outbox"]) == len(after["outbox"])
    shown = (await client.get(path)).json()
    assert shown["can_acknowledge"] is False and "already used" in shown["why_not"]


async def test_an_expired_link_is_gone_and_a_forged_one_not_found(intake):
    client, app, stored = intake
    expired = link(stored, now=NOW - timedelta(hours=13))
    assert (await client.post(expired)).status_code == 410
    forged = link(stored).replace("/ack/", "/ack/x")
    refused = await client.post(forged, headers={"Accept": "text/html"})
    assert refused.status_code == 404 and refused.headers["content-type"].startswith("text/html")
    assert app.state.tickets.documents[stored["_id"]]["first_response_at"] is None


async def test_an_address_guessing_links_is_made_to_wait(intake):
    client, _, stored = intake
    for _ in range(3):
        assert (await client.get("/ack/" + "A" * 40 + ".BBBB")).status_code == 404
    waited = await client.post(link(stored))
    assert waited.status_code == 429 and int(waited.headers["retry-after"]) >= 1
