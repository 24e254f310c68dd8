"""Who is calling another service's API, asked of intake (which owns identities) at its documented `GET /v1/me`.

The notifier (deliveries, its loaded configuration), triage and escalation (their loaded configuration, on-call)
never read intake's collections. Answers are cached for a short while per key (as a hash), so a revoked key
stops working elsewhere within `cache_seconds`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import httpx
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.problems import Problem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="incidents"'}
STAFF_ROLES = ("agent", "admin")


class IdentityUnavailable(Exception):
    """Intake could not be asked who the caller is (down or answering with an error)."""


class Identity(BaseModel):
    """Who holds a key, as intake answers `GET /v1/me`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=200)


class KeyRoles(Protocol):
    """Resolves a presented API key to its role."""

    async def role_of(self, key: str) -> str | None: ...


class KeyIdentities(Protocol):
    """Resolves a presented API key to who holds it."""

    async def identity_of(self, key: str) -> Identity | None: ...


class IntakeIdentities:
    """Asks intake's `GET /v1/me` with the caller's own key; caches role answers for `cache_seconds`."""

    def __init__(self, client: httpx.AsyncClient, intake_url: str, *, cache_seconds: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._client = client
        self._url = intake_url.rstrip("/") + "/v1/me"
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Identity | None]] = {}

    async def role_of(self, key: str) -> str | None:
        """Return the role of a valid key, None for an invalid one; raise IdentityUnavailable if intake cannot say."""
        identity = await self.identity_of(key)
        return identity.role if identity is not None else None

    async def identity_of(self, key: str) -> Identity | None:
        """Return who holds a valid key, None for an invalid one; raise IdentityUnavailable if intake cannot say."""
        if len(key) > 200:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        cached = self._cache.get(digest)
        now = self._monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self._client.get(self._url, headers={"Authorization": f"Bearer {key}"})
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(f"intake did not answer: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            identity = None
        elif response.status_code == 200:
            try:
                identity = Identity.model_validate(response.json())
            except (ValueError, ValidationError) as exc:
                raise IdentityUnavailable("intake answered /v1/me with an unexpected body") from exc
        else:
            raise IdentityUnavailable(f"intake answered {response.status_code}")
        if len(self._cache) >= self._max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[digest] = (now + self._cache_seconds, identity)
        return identity


async def require_staff(request: Request, keys: KeyRoles, what: str) -> str:
    """Return the caller's role if it is agent or admin; else raise 401, 403 or 503 as problem+json."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=CHALLENGE)
    try:
        role = await keys.role_of(key.strip())
    except IdentityUnavailable as exc:
        raise Problem(503, "Identity service unavailable", f"cannot check the API key right now ({exc}); retry",
                      headers={"Retry-After": "5"}) from exc
    if role is None:
        raise Problem(401, "Unauthorized", "the API key is not valid or has been revoked", headers=CHALLENGE)
    if role not in STAFF_ROLES:
        raise Problem(403, "Forbidden", f"{what} visible to agents and admins only")
    return role
