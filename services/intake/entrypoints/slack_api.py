"""Slack in: the Events API (`app_mention`, with the `url_verification` handshake) and the `/incident` command.

Every request is verified by Slack's signature before anything else is read: `X-Slack-Signature` is
`v0=` HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<body>` with the app's signing secret, and the
timestamp must be within five minutes (slack-sdk's SignatureVerifier). The secret comes from the
environment variable the integration names (never from the database). A bad or stale signature is
401, counted like a bad key, and nothing is stored.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk.signature import SignatureVerifier

from services.intake.domain.chat import USAGE, ChatReport, answer, plain_text
from services.intake.domain.integrations import ID_PATTERN, Integration, Kind
from services.intake.entrypoints.inbound import InboundGuard
from services.intake.entrypoints.integrations_api import TEMPORARY, BadJson, decode_json
from services.intake.entrypoints.ratelimit import retry_after_header
from services.intake.service_layer.chat import ChatIn, report_from_chat
from shared.problems import Problem, problem_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["integrations"], include_in_schema=False)
KIND = Kind.SLACK.value
SLACK_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class _EpochClock:
    """The clock slack-sdk's verifier asks for: seconds since the epoch, from intake's clock."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now().timestamp()


def signature_valid(secret: str, raw: bytes, timestamp: str | None, signature: str | None, clock: Any) -> bool:
    """Return True if Slack signed this body with the secret within the last five minutes (never raises)."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12 or not signature or len(signature) > 200:
        return False
    try:
        return SignatureVerifier(secret, clock=_EpochClock(clock)).is_valid(raw, timestamp, signature)
    except (ValueError, UnicodeDecodeError):
        return False


async def verified(request: Request, integration_id: str) -> tuple[Integration, bytes]:
    """Return the Slack integration and the raw body if Slack signed it; raise a 401 or 429 Problem otherwise."""
    guard: InboundGuard = request.app.state.inbound
    if (wait := guard.lockout(request)) > 0:
        raise Problem(429, "Too many requests", f"too many requests with a bad signature; retry in {wait:.0f} s",
                      headers=retry_after_header(wait))
    integration = await request.app.state.integrations.get(integration_id) if ID_PATTERN.match(integration_id) else None
    raw = await request.body()
    secret = os.environ.get(integration.signing_secret_env or "") if integration is not None else None
    if integration is not None and integration.kind is Kind.SLACK and not secret:
        log.error("a Slack integration's signing secret is not set", extra={"x_env": integration.signing_secret_env})
    if (integration is None or integration.kind is not Kind.SLACK or not secret
            or not signature_valid(secret, raw, request.headers.get("x-slack-request-timestamp"),
                                   request.headers.get("x-slack-signature"), request.app.state.clock)):
        guard.failed(request, KIND)
        raise Problem(401, "Unauthorized", "the request is not signed by the Slack app of this integration "
                      "(X-Slack-Signature over v0:timestamp:body, timestamp within 5 minutes)")
    return integration, raw


def chat_in(request: Request) -> ChatIn:
    """Return the Slack intake dependencies built at start."""
    return request.app.state.chat_in


def ticket_link(request: Request, number: str) -> str:
    """Return the link to a ticket people follow from Slack."""
    return f"{request.app.state.settings.portal_url.rstrip('/')}/tickets/{number}"


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


@router.post("/integrations/slack/{integration_id}/events")
async def slack_events(integration_id: str, request: Request, background: BackgroundTasks) -> Response:
    """Slack's Events API: the url_verification handshake, and app mentions that open tickets."""
    integration, raw = await verified(request, integration_id)
    guard: InboundGuard = request.app.state.inbound
    try:
        payload = decode_json(raw)
    except BadJson:
        payload = None
    if not isinstance(payload, dict):
        guard.metrics.count(KIND, "invalid")
        return problem_response(400, "Invalid event", "the body must be a JSON object", instance=request.url.path)
    if payload.get("type") == "url_verification":
        challenge = _text(payload.get("challenge"), 500)
        if not challenge:
            guard.metrics.count(KIND, "invalid")
            return problem_response(400, "Invalid event", "challenge: missing", instance=request.url.path)
        return JSONResponse({"challenge": challenge})
    event = payload.get("event")
    event_id = _text(payload.get("event_id"), 100)
    if payload.get("type") != "event_callback" or not isinstance(event, dict) or event.get("type") != "app_mention":
        guard.metrics.count(KIND, "ignored")
        return JSONResponse({"ok": True, "ignored": "only app_mention events open tickets"})
    fields = {name: _text(event.get(name), 100) for name in ("channel", "user", "ts")}
    team_id = _text(payload.get("team_id") or event.get("team"), 100)
    problems = [name for name, value in (("event_id", event_id), ("team_id", team_id), ("event.channel",
                fields["channel"]), ("event.user", fields["user"])) if not value or not SLACK_ID.match(value)]
    if problems or not isinstance(event.get("text"), str):
        guard.metrics.count(KIND, "invalid")
        named = ", ".join(problems or ["event.text"])
        return problem_response(400, "Invalid event", f"{named}: missing or not a Slack id", instance=request.url.path)
    report = ChatReport(team_id=team_id, channel_id=fields["channel"], user_id=fields["user"],
                        text=event["text"][:20_000], ts=fields["ts"], via="mention")
    token = os.environ.get(integration.bot_token_env or "")
    if not plain_text(report.text):
        guard.metrics.count(KIND, "ignored")
        if token:
            background.add_task(request.app.state.slack_web.post_message, token, report.channel_id, USAGE, report.ts)
        return JSONResponse({"ok": True, "ignored": "the mention says nothing"})
    if (wait := guard.throttle(integration)) > 0:
        guard.metrics.count(KIND, "throttled")
        return problem_response(429, "Too many requests", f"retry in {wait:.1f} s", instance=request.url.path,
                                headers=retry_after_header(wait))
    try:
        outcome = await report_from_chat(integration, report, event_id, chat_in(request))
    except TEMPORARY:
        guard.metrics.count(KIND, "failed")
        return problem_response(503, "Try again", "the report could not be stored just now", instance=request.url.path,
                                headers=retry_after_header(2))
    ticket = outcome.ticket
    guard.metrics.count(KIND, "accepted" if outcome.first else "ignored")
    if outcome.first and token:  # Slack's retries of this event find the ticket; only the first answers
        text = answer(ticket["number"], ticket["title"], ticket_link(request, ticket["number"]),
                      ticket.get("reported_severity"))
        background.add_task(request.app.state.slack_web.post_message, token, report.channel_id, text, report.ts)
    return JSONResponse({"ok": True, "ticket": ticket["number"]})


@router.post("/integrations/slack/{integration_id}/commands")
async def slack_command(integration_id: str, request: Request) -> Response:
    """The `/incident <what is wrong>` slash command: opens a ticket and answers with its number and link."""
    integration, raw = await verified(request, integration_id)
    guard: InboundGuard = request.app.state.inbound
    try:
        form = {key: values[0] for key, values in parse_qs(raw.decode("utf-8"), max_num_fields=50).items()}
    except (UnicodeDecodeError, ValueError):
        guard.metrics.count(KIND, "invalid")
        return problem_response(400, "Invalid command", "the body must be a UTF-8 form", instance=request.url.path)
    ids = {name: _text(form.get(name), 100) for name in ("team_id", "channel_id", "user_id", "trigger_id")}
    problems = [name for name, value in ids.items() if not value or not SLACK_ID.match(value)]
    if problems:
        guard.metrics.count(KIND, "invalid")
        return problem_response(400, "Invalid command", f"{', '.join(problems)}: missing or not a Slack id",
                                instance=request.url.path)
    report = ChatReport(team_id=ids["team_id"], channel_id=ids["channel_id"], user_id=ids["user_id"],
                        text=(form.get("text") or "")[:20_000], user_name=_text(form.get("user_name"), 200),
                        channel_name=_text(form.get("channel_name"), 200), via="command")
    if not plain_text(report.text):
        guard.metrics.count(KIND, "ignored")
        return JSONResponse({"response_type": "ephemeral", "text": USAGE})
    if (wait := guard.throttle(integration)) > 0:
        guard.metrics.count(KIND, "throttled")
        return JSONResponse({"response_type": "ephemeral",
                             "text": f"Too many reports right now; please try again in {wait:.0f} s."},
                            headers=retry_after_header(wait))
    try:
        outcome = await report_from_chat(integration, report, "cmd:" + ids["trigger_id"], chat_in(request))
    except TEMPORARY:
        guard.metrics.count(KIND, "failed")
        return JSONResponse({"response_type": "ephemeral",
                             "text": "The report could not be stored just now; please try again."})
    ticket = outcome.ticket
    guard.metrics.count(KIND, "accepted" if outcome.first else "ignored")
    text = answer(ticket["number"], ticket["title"], ticket_link(request, ticket["number"]),
                  ticket.get("reported_severity"))
    return JSONResponse({"response_type": "in_channel", "text": text})

