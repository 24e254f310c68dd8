"""Calls from intake to the other services' staff APIs: a notification's attempts, the configuration they loaded.

The console shows staff what the notifier and the other services know; each owns its data and answers
over HTTP (the notifier's `GET /v1/deliveries`, every service's `GET /v1/config`), so intake never reads
their collections or files. Those APIs take an agent's API key and check it with intake's `GET /v1/me`.
A browser session holds no key, so intake uses its own: a short-lived agent key it mints for itself,
kept in memory only, renewed before it expires (`ServiceKey`). Intake shows the answers only to staff
it has already checked.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.intake.domain.principals import Role
from shared.clock import Clock

SERVICE_NAME = "Support console (intake service)"


class ServiceUnavailable(Exception):
    """Another service did not answer usefully; the message says which and why (never a key)."""


class ServiceKey:
    """Intake's own agent key for the other services' staff APIs: minted on first use, renewed at half its life."""

    def __init__(self, api_keys: Any, clock: Clock, lifetime: timedelta) -> None:
        self._api_keys = api_keys
        self._clock = clock
        self._lifetime = lifetime
        self._key: str | None = None
        self._renew_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> str:
        """Return a key valid for at least half its lifetime, minting a new one when needed."""
        async with self._lock:
            now = self._clock.now()
            if self._key is None or self._renew_at is None or now >= self._renew_at:
                self._key, _ = await self._api_keys.create(Role.AGENT, SERVICE_NAME, None, now,
                                                           expires_at=now + self._lifetime)
                self._renew_at = now + self._lifetime / 2
            return self._key


class ServiceCalls:
    """Asks the notifier for a ticket's deliveries and any service for its loaded configuration."""

    def __init__(self, client: httpx.AsyncClient, urls: dict[str, str], key: ServiceKey) -> None:
        self._client = client
        self._urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._key = key

    async def _get(self, service: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """Return the JSON a service answers at path; raise ServiceUnavailable for anything but a JSON 200."""
        url = self._urls[service] + path
        headers = {"Authorization": f"Bearer {await self._key.current()}"}
        try:
            response = await self._client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} did not answer ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"{service} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceUnavailable(f"{service} did not answer with JSON") from exc
        if not isinstance(body, dict):
            raise ServiceUnavailable(f"{service} answered something unexpected")
        return body

    async def deliveries(self, ticket_id: str) -> list[dict[str, Any]]:
        """Return every notification of a ticket with each attempt, oldest first (the notifier's records)."""
        body = await self._get("notifier", "/v1/deliveries", {"ticket_id": ticket_id})
        found = body.get("deliveries")
        return found if isinstance(found, list) else []

    async def loaded_config(self, service: str) -> dict[str, Any]:
        """Return the configuration files a service loaded at start (see shared/config_view.py)."""
        return await self._get(service, "/v1/config")
