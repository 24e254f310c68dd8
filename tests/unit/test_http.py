"""The intake HTTP surface with fake adapters: auth, visibility, validation, limits."""

import httpx
import pytest
from fastapi import FastAPI

from services.intake.domain.principals import Role
from services.intake.entrypoints import (
    actions_api,
    attachments_api,
    features_api,
    tickets_api,
)
from services.intake.entrypoints.ratelimit import TokenBuckets
from services.intake.settings import IntakeSettings
from shared.clock import FakeClock
from shared.http import BodySizeLimit
from shared.problems import install_problem_handlers
from shared.sla.policy import SlaPolicy
from tests.fakes import FakeApiKeys, FakeTickets


class _Relay:
    def wake(self):
        pass


class _Runtime:
    relay = _Relay()


@pytest.fixture
async def api():
    app = FastAPI()
    install_problem_handlers(app)
    for api in (tickets_api, actions_api, features_api, attachments_api):
        app.include_router(api.router)
    app.add_middleware(BodySizeLimit, max_bytes=4096)
    app.state.settings = IntakeSettings()
    app.state.clock = FakeClock()
    app.state.sla = SlaPolicy()
    app.state.tickets = FakeTickets()
    app.state.api_keys = FakeApiKeys()
    app.state.runtime = _Runtime()
    app.state.rate_limiter = TokenBuckets(per_minute=600, burst=100)
    keys = {}
    for role, name in [(Role.REPORTER, "ada"), (Role.REPORTER, "bob"), (Role.AGENT, "ann")]:
        keys[name], _ = await app.state.api_keys.create(role, name, f"{name}@example.com", app.state.clock.now())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, keys, app


def auth(key):
    return {"Authorization": f"Bearer {key}"}


BODY = {"title": "Cannot log in", "type": "access", "description": "Account locked", "severity": 2}


async def test_missing_or_wrong_key_is_401_problem(api):
    client, _, _ = api
    for headers in ({}, auth("ik_nope"), {"Authorization": "Basic abc"}):
        response = await client.post("/v1/tickets", json=BODY, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["detail"]


async def test_report_then_read_back_with_owner_only_visibility(api):
    client, keys, app = api
    created = await client.post("/v1/tickets", json=BODY, headers=auth(keys["ada"]))
    assert created.status_code == 201
    ticket = created.json()
    assert ticket["number"] == "INC-000001"
    assert created.headers["location"] == "/v1/tickets/INC-000001"
    assert ticket["reported_severity"] == "high" and ticket["status"] == "open"
    stored = next(iter(app.state.tickets.documents.values()))
    assert stored["outbox"][0]["event_type"] == "ticket.reported"

    assert (await client.get("/v1/tickets/INC-000001", headers=auth(keys["ada"]))).status_code == 200
    assert (await client.get("/v1/tickets/INC-000001", headers=auth(keys["ann"]))).status_code == 200
    hidden = await client.get("/v1/tickets/INC-000001", headers=auth(keys["bob"]))
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == "no ticket INC-000001 is visible to you"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "status": "closed"}, "status"),
        ({**BODY, "$where": "sleep(1)"}, "$where"),
        ({"title": "x", "type": "access", "description": "y"}, "title"),
        ({"type": "access", "description": "y"}, "title"),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(api, body, field):
    client, keys, app = api
    response = await client.post("/v1/tickets", json=body, headers=auth(keys["ada"]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["detail"]
    assert app.state.tickets.documents == {}


async def test_oversize_body_is_413(api):
    client, keys, _ = api
    response = await client.post("/v1/tickets", json={**BODY, "description": "x" * 5000}, headers=auth(keys["ada"]))
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]


async def test_malformed_json_is_422(api):
    client, keys, _ = api
    response = await client.post(
        "/v1/tickets", content=b"{not json", headers={**auth(keys["ada"]), "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["title"] == "Invalid request"
