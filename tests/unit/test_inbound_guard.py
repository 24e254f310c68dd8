"""The inbound guard: an adaptive in-flight limit that keeps answers quick, per-integration buckets, and a
Slack signature check that never raises (any bytes, any header)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.intake.adapters.integration_metrics import IntegrationMetrics
from services.intake.domain.integrations import Integration, Kind
from services.intake.entrypoints import integrations_api
from services.intake.entrypoints.auth import FailedAuthentications
from services.intake.entrypoints.inbound import AdaptiveLimit, InboundGuard
from services.intake.entrypoints.slack_api import signature_valid
from shared.clock import FakeClock

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_the_limit_shrinks_while_answers_are_slow_and_grows_back_while_they_are_quick():
    limit = AdaptiveLimit(32, 0.1)
    for _ in range(50):
        limit.completed(0.5)
    assert int(limit.limit) == 2 and not limit.allows(2) and limit.allows(1)
    for _ in range(200):
        limit.completed(0.01)
    assert int(limit.limit) >= 20


async def test_requests_over_the_limit_are_refused_at_once():
    guard = InboundGuard(FailedAuthentications(10, 60), IntegrationMetrics(CollectorRegistry()), 2)
    release = asyncio.Event()
    admitted: list[bool] = []

    async def request() -> None:
        async with guard.admitted() as ok:
            admitted.append(ok)
            if ok:
                await release.wait()

    tasks = [asyncio.create_task(request()) for _ in range(2)]
    await asyncio.sleep(0)
    await request()
    release.set()
    await asyncio.gather(*tasks)
    assert admitted == [True, True, False] and guard.in_flight == 0


def test_each_integration_has_its_own_bucket():
    guard = InboundGuard(FailedAuthentications(10, 60), IntegrationMetrics(CollectorRegistry()), 8)
    slow = Integration(id="01JAAAAAAAAAAAAAAAAAAAAAAA", kind=Kind.EVENTS_V2, name="slow", team="t", rate_per_minute=1,
                       burst=1)
    other = Integration(id="01JBBBBBBBBBBBBBBBBBBBBBBB", kind=Kind.EVENTS_V2, name="other", team="t", rate_per_minute=1,
                        burst=1)
    assert guard.throttle(slow) == 0 and guard.throttle(slow) > 0 and guard.throttle(other) == 0


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def test_slack_signatures_are_checked_within_five_minutes():
    clock = FakeClock(NOW)
    stamp = str(int(NOW.timestamp()))
    body = b'{"type":"url_verification"}'
    assert signature_valid("secret", body, stamp, slack_signature("secret", stamp, body), clock)
    assert not signature_valid("other", body, stamp, slack_signature("secret", stamp, body), clock)
    old = str(int(NOW.timestamp()) - 301)
    assert not signature_valid("secret", body, old, slack_signature("secret", old, body), clock)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.one_of(st.none(), st.text(max_size=30)), st.one_of(st.none(), st.text(max_size=80)))
def test_the_signature_check_never_raises(body, timestamp, signature):
    assert signature_valid("secret", body, timestamp, signature, FakeClock(NOW)) in (True, False)


async def test_a_refused_request_waits_for_the_backlog_not_a_flat_second():
    now = [100.0]
    guard = InboundGuard(FailedAuthentications(10, 60), IntegrationMetrics(CollectorRegistry()), 2,
                         monotonic=lambda: now[0])
    assert guard.busy_retry_after() == 1.0
    guard.in_flight = 2  # two requests are being worked on: everything else is refused
    for _ in range(300):
        async with guard.admitted() as ok:
            assert not ok
    guard.in_flight = 0
    for _ in range(10):
        async with guard.admitted() as ok:
            assert ok
    assert guard.busy_retry_after() == 30.0, "300 waiting, 10 served per second"
    now[0] += 2.5
    assert guard.busy_retry_after() == 1.0, "the backlog is forgotten once it stops growing"


def test_an_address_waiting_out_bad_keys_gets_a_503_alertmanager_retries_not_a_429_it_drops():
    """Attack: bad keys from a shared address (a NAT, a proxy) would make Alertmanager drop a real alert."""
    failures = FailedAuthentications(2, 60.0)
    app = FastAPI()
    app.include_router(integrations_api.router)
    app.state.inbound = InboundGuard(failures, IntegrationMetrics(CollectorRegistry()), 8)
    client = TestClient(app)
    for _ in range(2):
        failures.failed("testclient")
    answer = client.post("/integrations/alertmanager", json={"version": "4"},
                         headers={"Authorization": "Bearer ik_a-real-key"})
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["content-type"] == "application/problem+json"
    events = client.post("/v2/enqueue", json={"routing_key": "x" * 32})
    assert events.status_code == 429, "the Events API's clients retry a 429 as PagerDuty documents"
