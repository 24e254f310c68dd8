"""Alerts in over HTTP: the Alertmanager webhook and the PagerDuty-compatible Events API v2.

Both live outside /v1 (they prove themselves their own way, not with an API key header of ours):
- `POST /integrations/alertmanager`: `Authorization: Bearer <integration key>` (Alertmanager's
  `http_config.authorization`), checked before the body is read. Alertmanager retries 5xx and
  never 4xx, so throttling, an address waiting out bad keys and temporary failures are 503 with
  Retry-After, bad input 400.
- `POST /v2/enqueue`: the key is the body's `routing_key`; answers are PagerDuty's (202
  `{"status": "success", "message": "Event processed", "dedup_key": ...}`, 400 with `errors`,
  429 with Retry-After, 413 over 512 KB) and 401 for a key that proves nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from services.intake.domain.events_v2 import InvalidEvent, parse_event, routing_key_of
from services.intake.domain.integrations import Integration, Kind
from services.intake.entrypoints.alertmanager_schema import AlertmanagerPayload
from services.intake.entrypoints.auth import CHALLENGE
from services.intake.entrypoints.inbound import InboundGuard
from services.intake.entrypoints.ratelimit import retry_after_header
from services.intake.service_layer.alerts import AlertsIn, receive_event, receive_notification
from services.intake.service_layer.commands import ConcurrentChange
from shared.documents import LostRace
from shared.problems import describe_validation_errors, problem_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["integrations"], include_in_schema=False)
TEMPORARY = (ConnectionFailure, ConcurrentChange, LostRace, TimeoutError)
"""Failures a retry can get past: the database briefly away, or a record that kept changing."""


class BadJson(ValueError):
    """A body that is not UTF-8 JSON."""


def decode_json(raw: bytes) -> Any:
    """Return the decoded body, or raise BadJson (also for nesting too deep to decode)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadJson("the body is not UTF-8 JSON") from exc


def bearer_key(request: Request) -> str:
    """Return the key of an `Authorization: Bearer <key>` header, or an empty string."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


async def integration_for(request: Request, key: str, kind: Kind) -> Integration | None:
    """Return the integration of this kind the key proves, or None."""
    integration = await request.app.state.integrations.by_key(key) if key else None
    return integration if integration is not None and integration.kind is kind else None


def alerts_in(request: Request) -> AlertsIn:
    """Return the alert intake dependencies built at start."""
    return request.app.state.alerts_in


@router.post("/integrations/alertmanager")
async def alertmanager_webhook(request: Request) -> Response:
    """Receive an Alertmanager notification: one ticket per alert group, alerts tracked by fingerprint."""
    guard: InboundGuard = request.app.state.inbound
    path = request.url.path
    if (wait := guard.lockout(request)) > 0:  # 503: the address may be shared, and Alertmanager drops a 4xx
        return problem_response(503, "Too many bad keys", f"too many requests with a bad key came from this "
                                f"address; retry in {wait:.0f} s", instance=path, headers=retry_after_header(wait))
    async with guard.admitted() as admitted:
        if not admitted:  # 503, not 429: Alertmanager retries 5xx only
            guard.metrics.count(Kind.ALERTMANAGER.value, "busy")
            return problem_response(503, "Busy", "too many alerts are being received at once; retry shortly",
                                    instance=path, headers=retry_after_header(guard.busy_retry_after()))
        return await _alertmanager(request, path, guard)


async def _alertmanager(request: Request, path: str, guard: InboundGuard) -> Response:
    kind = Kind.ALERTMANAGER.value
    integration = await integration_for(request, bearer_key(request), Kind.ALERTMANAGER)
    if integration is None:
        guard.failed(request, kind)
        return problem_response(401, "Unauthorized", "send the integration key of an Alertmanager integration as "
                                "'Authorization: Bearer <key>' (http_config.authorization in alertmanager.yml)",
                                instance=path, headers=CHALLENGE)
    if (wait := guard.throttle(integration)) > 0:  # 503, not 429: Alertmanager retries 5xx only
        guard.metrics.count(kind, "throttled")
        return problem_response(503, "Slow down", f"this integration's rate limit is reached; retry in {wait:.1f} s",
                                instance=path, headers=retry_after_header(wait))
    try:
        payload = AlertmanagerPayload.model_validate(decode_json(await request.body()))
    except (BadJson, ValidationError) as exc:
        guard.metrics.count(kind, "invalid")
        detail = describe_validation_errors(exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        return problem_response(400, "Invalid notification", detail, instance=path)
    try:
        outcome = await receive_notification(integration, payload.to_notification(), alerts_in(request))
    except TEMPORARY as exc:
        guard.metrics.count(kind, "failed")
        log.warning("alert notification not stored yet; Alertmanager will retry", extra={"x_error": repr(exc)})
        return problem_response(503, "Try again", "the notification could not be stored just now; retry",
                                instance=path, headers=retry_after_header(2))
    guard.metrics.count(kind, "ignored" if outcome.action == "ignored" else "accepted")
    ticket = outcome.ticket
    return JSONResponse({"status": "ok", "action": outcome.action, "ticket": ticket["number"] if ticket else None,
                         **({"reason": outcome.reason} if outcome.reason else {})})


def pd_answer(status: int, state: str, message: str, *, errors: list[str] | None = None,
              headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """Return an answer shaped as PagerDuty's Events API answers (status, message, errors)."""
    body: dict[str, Any] = {"status": state, "message": message, **extra}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/v2/enqueue", status_code=202)
async def enqueue_event(request: Request) -> Response:
    """Receive an Events API v2 event (trigger, acknowledge, resolve) as PagerDuty would."""
    guard: InboundGuard = request.app.state.inbound
    if (wait := guard.lockout(request)) > 0:
        return pd_answer(429, "throttle event", f"too many requests with a bad routing key; retry in {wait:.0f} s",
                         headers=retry_after_header(wait))
    async with guard.admitted() as admitted:
        if not admitted:
            guard.metrics.count(Kind.EVENTS_V2.value, "busy")
            return pd_answer(429, "throttle event", "Too many events are being received at once. Please retry later.",
                             headers=retry_after_header(guard.busy_retry_after()))
        return await _enqueue(request, guard)


async def _enqueue(request: Request, guard: InboundGuard) -> Response:
    kind = Kind.EVENTS_V2.value
    try:
        body = decode_json(await request.body())
        key = routing_key_of(body)
    except (BadJson, InvalidEvent) as exc:
        guard.metrics.count(kind, "invalid")
        errors = exc.errors if isinstance(exc, InvalidEvent) else [str(exc)]
        return pd_answer(400, "invalid event", "Event object is invalid", errors=errors)
    integration = await integration_for(request, key, Kind.EVENTS_V2)
    if integration is None:
        guard.failed(request, kind)
        return pd_answer(401, "unauthorized", "Invalid routing key",
                         errors=["'routing_key' is not the key of an active Events API integration"])
    if (wait := guard.throttle(integration)) > 0:
        guard.metrics.count(kind, "throttled")
        return pd_answer(429, "throttle event", "Requests for this service are arriving too quickly. "
                         "Please retry later.", headers=retry_after_header(wait))
    try:
        event = parse_event(body)
    except InvalidEvent as exc:
        guard.metrics.count(kind, "invalid")
        return pd_answer(400, "invalid event", "Event object is invalid", errors=exc.errors)
    try:
        outcome = await receive_event(integration, event, alerts_in(request))
    except TEMPORARY as exc:
        guard.metrics.count(kind, "failed")
        log.warning("event not stored yet; the client should retry", extra={"x_error": repr(exc)})
        return pd_answer(503, "error", "The event could not be stored just now. Please retry.",
                         headers=retry_after_header(2))
    guard.metrics.count(kind, "ignored" if outcome.action == "ignored" else "accepted")
    extra = {"dropped": outcome.reason} if outcome.action == "ignored" else {}
    if outcome.ticket is not None and outcome.action != "ignored":
        extra["ticket"] = outcome.ticket["number"]
    return pd_answer(202, "success", "Event processed", dedup_key=outcome.key, **extra)
