"""Integrations in `integrations` (by id) and their keys in `integration_keys` (by SHA-256 of the key).

A request proves its integration by its key: the key's hash is the `_id` of its record, so the
lookup is one read by `_id`. Keys are shown once and never stored; Slack integrations have no key of
ours (Slack signs each request with a secret read from the environment variable the record names).
Authenticated integrations are cached for a few seconds: revoking takes effect within that time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.integrations import Integration, Kind, from_document, to_document
from shared.ids import hash_api_key, new_api_key
from shared.persistence import IndexSpec

COLLECTION = "integrations"
KEYS = "integration_keys"
INDEXES = [IndexSpec(COLLECTION, [("name", 1)]), IndexSpec(KEYS, [("integration_id", 1)])]
"""Lookups by name (revoke, create) and a key by its integration (revoke) on MongoDB: admin questions."""
CACHE_SECONDS = 5.0
MAX_KEY_LENGTH = 200


def new_integration_key(kind: Kind) -> str:
    """Return a fresh key: 32 hex characters for the Events API (the length PagerDuty's keys have, which some
    tools check), an `ik_` API key otherwise."""
    return secrets.token_hex(16) if kind is Kind.EVENTS_V2 else new_api_key()


class Integrations(Protocol):
    """Finds the integration a request proves."""

    async def by_key(self, key: str) -> Integration | None: ...

    async def get(self, integration_id: str) -> Integration | None: ...


class MongoIntegrations:
    """Integrations and their hashed keys in MongoDB."""

    def __init__(self, db: AsyncDatabase, *, cache_seconds: float = CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._integrations = db[COLLECTION]
        self._keys = db[KEYS]
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Integration]] = {}
        self._key_cache: dict[str, tuple[float, str]] = {}

    async def create(self, integration: Integration) -> str | None:
        """Store a new integration and return its key (None for Slack, which proves itself by signature)."""
        if await self._integrations.find_one({"name": integration.name, "revoked": False}) is not None:
            raise ValueError(f"an integration named {integration.name!r} exists; revoke it or choose another name")
        key = None if integration.kind is Kind.SLACK else new_integration_key(integration.kind)
        document = to_document(integration)
        if key is not None:
            document["key_id"] = hash_api_key(key)[:16]
            await self._keys.insert_one({"_id": hash_api_key(key), "integration_id": integration.id,
                                         "created_at": integration.created_at})
        await self._integrations.insert_one(document)
        return key

    async def get(self, integration_id: str) -> Integration | None:
        """Return the integration with this id if it exists and is not revoked (cached briefly)."""
        now = self._monotonic()
        cached = self._cache.get(integration_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        document = await self._integrations.find_one({"_id": integration_id})
        if document is None or document.get("revoked"):
            self._cache.pop(integration_id, None)
            return None
        integration = from_document(document)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[integration_id] = (now + self._cache_seconds, integration)
        return integration

    async def by_key(self, key: str) -> Integration | None:
        """Return the integration this key proves, or None (unknown, revoked, or absurdly long)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        hashed = hash_api_key(key)
        now = self._monotonic()
        cached = self._key_cache.get(hashed)
        if cached is not None and cached[0] > now:
            return await self.get(cached[1])
        record = await self._keys.find_one({"_id": hashed})
        if record is None or record.get("revoked"):
            self._key_cache.pop(hashed, None)
            return None
        if len(self._key_cache) > 10_000:
            self._key_cache.clear()
        self._key_cache[hashed] = (now + self._cache_seconds, record["integration_id"])
        return await self.get(record["integration_id"])

    async def list(self) -> list[dict[str, Any]]:
        """Return every integration, newest first (an admin's question: a scan, not a hot path)."""
        found = [document async for document in self._integrations.find({})]
        return sorted(found, key=lambda d: str(d["_id"]), reverse=True)

    async def revoke(self, integration_id: str, now: datetime) -> dict[str, Any] | None:
        """Revoke an integration (by id or name) and its key; return it as stored after, or None if unknown."""
        document = await self._integrations.find_one({"_id": integration_id})
        if document is None:
            document = await self._integrations.find_one({"name": integration_id, "revoked": False})
        if document is None:
            return None
        await self._keys.update_many({"integration_id": document["_id"]},
                                     {"$set": {"revoked": True, "revoked_at": now}})
        await self._integrations.update_one({"_id": document["_id"]}, {"$set": {"revoked": True, "revoked_at": now}})
        self._cache.pop(document["_id"], None)
        return {**document, "revoked": True, "revoked_at": now}
