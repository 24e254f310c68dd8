"""Slack's Web API, for the one thing intake says in Slack after a mention: which ticket it opened."""

from __future__ import annotations

import asyncio
import logging

import httpx

log = logging.getLogger(__name__)
ATTEMPTS = 3


class SlackWebApi:
    """Posts messages with a bot token (`chat.postMessage`), retrying 429 (after Retry-After) and 5xx briefly."""

    def __init__(self, base_url: str, *, timeout_seconds: float = 5.0, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)

    async def post_message(self, token: str, channel: str, text: str, thread_ts: str | None = None) -> bool:
        """Post text to a channel (in the thread of thread_ts); return True once Slack answered ok."""
        body = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if thread_ts:
            body["thread_ts"] = thread_ts
        for attempt in range(ATTEMPTS):
            wait = 2.0 ** attempt
            try:
                response = await self._client.post(f"{self.base_url}/chat.postMessage", json=body,
                                                   headers={"Authorization": f"Bearer {token}"})
                if response.status_code == 200:
                    answer = response.json() if response.content else {}
                    if answer.get("ok"):
                        return True
                    log.warning("Slack refused the answer", extra={"x_error": str(answer.get("error"))[:100]})
                    return False
                if response.status_code != 429 and response.status_code < 500:
                    log.warning("Slack refused the answer", extra={"x_status": response.status_code})
                    return False
                retry_after = response.headers.get("retry-after", "")
                wait = float(retry_after) if retry_after.isdigit() else wait
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("Slack answer failed", extra={"x_error": repr(exc)[:200]})
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(min(wait, 30.0))
        return False

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
