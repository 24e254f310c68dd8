"""HTTP channels over httpx: the signed generic webhook and the Slack-compatible incoming webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from services.notifier.domain.deliveries import Outgoing
from services.notifier.domain.retry import SendResult, classify_http, permanent, transient
from services.notifier.domain.signing import (
    DELIVERY_HEADER,
    IDEMPOTENCY_HEADER,
    SigningKey,
    signed_headers,
)
from shared.clock import Clock

USER_AGENT = "incidents-notifier/1"


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], clock: Clock) -> SendResult:
    """Return the classified result of POSTing body: timeouts and connection errors are transient."""
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return transient(f"timeout: {type(exc).__name__}")
    except httpx.ConnectError as exc:
        return transient(f"connection failed: {exc}")
    except httpx.HTTPError as exc:
        return transient(f"{type(exc).__name__}: {exc}")
    return classify_http(response.status_code, response.headers.get("retry-after"), clock.now())


def encode(body: dict[str, Any]) -> bytes:
    """Return the canonical JSON bytes of a body (the exact bytes that are signed)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


class WebhookSender:
    """POSTs the JSON body signed with the endpoint's own key (HMAC-SHA256), with key id, timestamp and
    idempotency headers (docs/webhooks.md)."""

    def __init__(self, client: httpx.AsyncClient, keys: Callable[[str], SigningKey | None], clock: Clock) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Return the classified result of one signed POST to the endpoint URL; an endpoint without a key is not sent."""
        key = self._keys(outgoing.endpoint) if outgoing.endpoint else None
        if key is None:
            return permanent(f"endpoint {outgoing.endpoint!r} has no signing secret")
        body = encode(outgoing.webhook_body())
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: outgoing.delivery_id,
            IDEMPOTENCY_HEADER: outgoing.idempotency_key,
            **signed_headers(key, timestamp, body),
        }
        return await post(self._client, outgoing.address, body, headers, self._clock)


class SlackSender:
    """POSTs `{text, blocks}` to a Slack-compatible incoming webhook URL."""

    def __init__(self, client: httpx.AsyncClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Return the classified result of one POST of the message text and blocks."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   IDEMPOTENCY_HEADER: outgoing.idempotency_key}
        return await post(self._client, outgoing.address, encode(slack_body(outgoing)), headers, self._clock)


def slack_body(outgoing: Outgoing) -> dict[str, Any]:
    """Return the incoming-webhook body: the rendered text and blocks (their values were escaped when rendered)."""
    body: dict[str, Any] = {"text": outgoing.content.text}
    if outgoing.content.blocks:
        body["blocks"] = outgoing.content.blocks
    return body
