"""The portal's plumbing and wording: redirects stay on the site, CSRF tokens match the library, SLA words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from httpx import ASGITransport, AsyncClient

from services.intake.domain.timeline_words import status_label
from services.intake.entrypoints import portal_format as fmt
from services.intake.entrypoints.portal_web import CSRF_COOKIE, CsrfRefused, Portal, local_path
from services.intake.settings import IntakeSettings
from shared.clock import FakeClock


@pytest.mark.parametrize(("given", "kept"), [
    ("/tickets/INC-000001", "/tickets/INC-000001"), ("/report?x=1", "/report?x=1"),
    ("https://evil.example/", "/tickets"), ("//evil.example/", "/tickets"), ("/\\evil.example", "/tickets"),
    ("javascript:alert(1)", "/tickets"), ("", "/tickets"), (None, "/tickets"), ("/ok\r\nSet-Cookie: x", "/tickets")])
def test_only_local_paths_are_followed_after_sign_in(given, kept):
    assert local_path(given) == kept


@pytest.fixture
def app():
    app = FastAPI()
    app.state.settings = IntakeSettings()
    app.state.clock = FakeClock()
    portal = app.state.portal = Portal(app.state.settings)

    @app.exception_handler(CsrfRefused)
    async def refused(request: Request, exc: CsrfRefused):
        return PlainTextResponse("refused", status_code=403)

    @app.get("/form")
    async def form(request: Request):
        token, new_cookie = portal.csrf_token(request)
        response = PlainTextResponse(token)
        if new_cookie:
            portal.csrf.set_csrf_cookie(new_cookie, response)
        return response

    @app.post("/form")
    async def post(request: Request):
        form = await portal.checked_form(request)
        return PlainTextResponse(f"ok {form.get('x')}")

    return app


async def test_a_form_needs_the_token_of_this_browser(app):
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        token = (await client.get("/form")).text
        assert CSRF_COOKIE in client.cookies
        again = (await client.get("/form")).text
        assert again == token, "a second page (another tab) keeps the same token, so the first tab's form still works"
        assert (await client.post("/form", data={"csrf_token": token, "x": "1"})).text == "ok 1"
        assert (await client.post("/form", data={"x": "1"})).status_code == 403
        assert (await client.post("/form", data={"csrf_token": "forged", "x": "1"})).status_code == 403
        assert (await client.post("/form", data={"x": "1"}, headers={"X-CSRF-Token": token})).text == "ok 1"
        assert (await client.post("/form", json={"csrf_token": token})).status_code == 403
        assert (await client.post("/form", content=b"\xff\xfe", headers={
            "content-type": "application/x-www-form-urlencoded"})).status_code == 403
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as other:
        assert (await other.post("/form", data={"csrf_token": token})).status_code == 403, "no cookie, no post"


NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("clock", "status", "words", "tone"), [
    ({"target": "response", "state": "running", "time_left_seconds": 3 * 3600}, "open", "response due in 3 h", "ok"),
    ({"target": "response", "state": "running", "time_left_seconds": 45 * 60}, "open", "response due in 45 min", "ok"),
    ({"target": "resolution", "state": "paused", "time_left_seconds": 600}, "waiting_for_info",
     "resolution paused: waiting for you", "paused"),
    ({"target": "resolution", "state": "paused", "time_left_seconds": 600}, "on_hold", "resolution paused: on hold",
     "paused"),
    ({"target": "response", "state": "running", "time_left_seconds": 8 * 3600, "business_time": True}, "open",
     "response due in 8 working hours", "ok"),
    ({"target": "response", "state": "breached", "time_left_seconds": -7200}, "open", "response overdue by 2 h",
     "late"),
    ({"target": "response", "state": "met", "time_left_seconds": 100}, "in_progress", "response met", "done"),
])
def test_a_clock_in_words(clock, status, words, tone):
    assert fmt.clock_words(clock, status) == (words, tone)


def test_a_row_shows_the_clock_that_matters_now():
    met = {"target": "response", "state": "met", "outcome": "met", "time_left_seconds": 10}
    running = {"target": "resolution", "state": "running", "outcome": None, "time_left_seconds": 5 * 3600}
    assert fmt.summary_sla([met, running], "in_progress") == ("resolution due in 5 h", "ok")
    assert fmt.summary_sla([], "open") == ("being assessed", "done")
    assert fmt.summary_sla([met, running], "resolved")[0] == "waiting for your confirmation"


@pytest.mark.parametrize(("seconds", "words"), [(30, "1 min"), (3600, "1 h"), (5400, "1 h 30 min"), (26 * 3600, "1 d 2 h")])
def test_durations_read_like_speech(seconds, words):
    assert fmt.duration(seconds) == words


def test_severities_and_statuses_are_labelled_in_kb005_words():
    assert fmt.severity_label("high") == "High (Severity 2)" and fmt.severity_label(None) == "Not assessed yet"
    assert status_label("waiting_for_info") == "Waiting for Info"


def test_behind_tls_every_portal_cookie_is_secure_httponly_and_lax(monkeypatch):
    from fastapi.responses import Response

    portal = Portal(IntakeSettings(portal_url="https://support.example.com"))
    response = Response()
    portal.set_session(response, "session-id")
    portal.csrf.set_csrf_cookie(portal.csrf.generate_csrf_tokens()[1], response)
    cookies = response.headers.getlist("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"secure", "httponly", "samesite=lax"} <= flags, cookie
    plain = Portal(IntakeSettings(portal_url="http://127.0.0.1:8080"))
    response = Response()
    plain.set_session(response, "session-id")
    assert "secure" not in response.headers["set-cookie"].lower(), "plain http (development): no Secure, or no cookie"


def test_pages_may_be_framed_only_by_the_configured_hosts():
    portal = Portal(IntakeSettings(widget_origins="https://app.example.com"))
    policy = portal.content_security_policy
    assert "frame-ancestors 'self' https://app.example.com" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("secret", ["PORTAL_SECRET", "WIDGET_SECRET"])
def test_production_refuses_the_development_portal_secrets(monkeypatch, secret):
    from shared.settings import SettingsError, load_settings

    good = {"ENVIRONMENT": "production", "AMQP_URL": "amqp://incidents:S3cret-broker-pass@rabbit:5672/",
            "MONGODB_URL": "mongodb://incidents:S3cret-db-pass@mongo:27017/?authSource=admin",
            "PORTAL_SECRET": "a-real-portal-secret-0123456789abcdef",
            "WIDGET_SECRET": "a-real-widget-secret-0123456789abcdef",
            "MAIL_REPLY_SECRET": "a-real-mail-reply-secret-0123456789abcdef",
            "ACK_LINK_SECRET": "a-real-ack-link-secret-0123456789abcdef"}
    for name, value in good.items():
        monkeypatch.setenv(name, value)
    assert load_settings(IntakeSettings).environment == "production"
    monkeypatch.delenv(secret)
    with pytest.raises(SettingsError) as refused:
        load_settings(IntakeSettings)
    assert secret in str(refused.value) and "a-real" not in str(refused.value)
