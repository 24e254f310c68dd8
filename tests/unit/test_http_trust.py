"""The HTTP shell against hostile clients: chunked oversize bodies, huge 422s, invented methods, bad keys."""

from __future__ import annotations

import asyncio
import json
import random
import string

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from services.intake.domain.principals import Role
from services.intake.entrypoints.auth import AuthenticateFirst, Caller, FailedAuthentications
from services.intake.entrypoints.ratelimit import TokenBuckets
from shared.http import BodySizeLimit, RequestMetrics
from shared.metrics import pipeline_metrics
from shared.problems import install_problem_handlers
from tests.fakes import FakeApiKeys


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str


def app_with_limits(max_bytes: int = 1000) -> tuple[FastAPI, CollectorRegistry]:
    app = FastAPI()
    install_problem_handlers(app)
    registry = CollectorRegistry()

    @app.api_route("/echo", methods=["POST", "GET", "PUT"])
    async def echo(body: Strict | None = None) -> dict:
        return {"title": body.title if body else None}

    app.add_middleware(RequestMetrics, metrics=pipeline_metrics(registry))
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    return app, registry


def test_a_chunked_body_over_the_limit_is_413_not_400():
    app, _ = app_with_limits(1000)

    def chunks():
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = TestClient(app).post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "1000 bytes" in response.json()["detail"]


def test_a_body_with_60000_unknown_keys_gets_a_short_422():
    app, _ = app_with_limits(10 * 1024 * 1024)
    body = {"title": "x", **{f"unknown_{i}_" + "k" * 80: 1 for i in range(60_000)}}
    response = TestClient(app).post("/echo", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 20 and problem["errors_total"] == 60_000
    assert "60000 errors in all" in problem["detail"]
    assert len(response.content) < 10_000


def test_invented_methods_share_one_metrics_label():
    app, registry = app_with_limits()
    client = TestClient(app)
    rng = random.Random(5)
    for _ in range(300):
        client.request("".join(rng.choices(string.ascii_uppercase, k=8)), "/echo")
    client.get("/echo")
    methods = {sample.labels["method"] for metric in registry.collect() if metric.name == "incidents_http_requests"
               for sample in metric.samples}
    assert methods == {"GET", "other"}


def authenticated_app(failures_allowed: int = 3) -> tuple[TestClient, str]:
    app = FastAPI()
    install_problem_handlers(app)
    keys = FakeApiKeys()
    app.state.api_keys = keys
    app.state.rate_limiter = TokenBuckets(600, 100)
    parsed: list[int] = []

    @app.post("/v1/things")
    async def create(request: Request, caller: Caller, body: Strict) -> dict:
        parsed.append(1)
        return {"by": caller.name}

    app.add_middleware(AuthenticateFirst, state=app.state, failures=FailedAuthentications(failures_allowed, 60.0))
    key, _ = asyncio.run(keys.create(Role.REPORTER, "Ada", "ada@example.com", None))
    return TestClient(app), key


def test_a_bad_key_is_refused_before_the_body_is_parsed():
    client, key = authenticated_app()
    broken = b'{"title": ' + b"[" * 5000
    response = client.post("/v1/things", content=broken, headers={"Authorization": "Bearer ik_wrong",
                                                                  "Content-Type": "application/json"})
    assert response.status_code == 401, "a bad key is answered before the body is looked at"
    ok = client.post("/v1/things", json={"title": "x"}, headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200 and ok.json() == {"by": "Ada"}


def test_an_address_that_keeps_presenting_bad_keys_waits():
    client, key = authenticated_app(failures_allowed=3)
    statuses = [client.post("/v1/things", json={"title": "x"}, headers={"Authorization": f"Bearer ik_guess{i}"})
                .status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    blocked = client.post("/v1/things", json={"title": "x"}, headers={"Authorization": f"Bearer {key}"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_failed_authentications_are_forgotten_after_the_window():
    now = [0.0]
    failures = FailedAuthentications(2, 60.0, monotonic=lambda: now[0])
    failures.failed("10.0.0.1")
    failures.failed("10.0.0.1")
    assert failures.wait("10.0.0.1") == 60.0 and failures.wait("10.0.0.2") == 0
    now[0] = 61.0
    assert failures.wait("10.0.0.1") == 0
