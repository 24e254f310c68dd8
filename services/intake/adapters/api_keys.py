"""API keys stored as SHA-256 hashes in the `api_keys` collection."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.principals import Principal, Role
from shared.clock import Clock, SystemClock
from shared.ids import hash_api_key, new_api_key, new_id
from shared.persistence import IndexSpec

COLLECTION = "api_keys"
INDEXES = [IndexSpec(COLLECTION, [("principal_id", 1)]), IndexSpec(COLLECTION, [("email", 1)]),
           IndexSpec(COLLECTION, [("key_id", 1)])]
"""Lookups by e-mail (mail intake), by user and by public key id (revocation) on MongoDB."""


class ApiKeys(Protocol):
    """Issues keys and resolves a presented key to its principal."""

    async def create(self, role: Role, name: str, email: str | None, now: datetime, *,
                     expires_at: datetime | None = None, vendor_id: str | None = None) -> tuple[str, Principal]: ...

    async def find_by_email(self, email: str, role: Role | None = None) -> Principal | None: ...

    async def register_reporter(self, email: str, name: str, now: datetime) -> Principal: ...

    async def active_staff_by_email(self, email: str) -> Principal | None: ...

    async def authenticate(self, key: str) -> Principal | None: ...


KEY_ID_LENGTH = 16


def key_id_of(key: str) -> str:
    """Return a key's public id: the start of its hash, which names it without revealing it."""
    return hash_api_key(key)[:KEY_ID_LENGTH]


def principal_of(record: dict[str, Any]) -> Principal:
    """Return the principal a key record names."""
    return Principal(id=record["principal_id"], role=Role(record["role"]), name=record["name"],
                     email=record.get("email"), vendor_id=record.get("vendor_id"))


def key_view(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return what may be shown of a key: never the key or its hash."""
    expires_at = record.get("expires_at")
    state = ("revoked" if record.get("revoked") else "expired" if expires_at is not None and expires_at <= now
             else "active")
    return {"key_id": record.get("key_id") or str(record["_id"])[:KEY_ID_LENGTH], "principal_id": record["principal_id"],
            "role": record["role"], "name": record["name"], "email": record.get("email"),
            "vendor_id": record.get("vendor_id"), "created_at": record.get("created_at"), "expires_at": expires_at,
            "state": state, "has_key": not str(record["_id"]).startswith("no-key:")}


class MongoApiKeys:
    """API keys in MongoDB; the plain key is never stored. Keys may expire and be revoked."""

    def __init__(self, db: AsyncDatabase, clock: Clock | None = None) -> None:
        self._keys = db[COLLECTION]
        self._clock = clock or SystemClock()

    async def create(self, role: Role, name: str, email: str | None, now: datetime, *,
                     expires_at: datetime | None = None, vendor_id: str | None = None) -> tuple[str, Principal]:
        """Store a new key's hash and return (plain key, principal); a known e-mail keeps its identity."""
        if role is Role.VENDOR and not vendor_id:
            raise ValueError("a vendor key names its vendor (vendor_id)")
        key = new_api_key()
        known = await self.find_by_email(email, role) if email else None
        principal = Principal(id=known.id if known else new_id(), role=role, name=name, email=email,
                              vendor_id=vendor_id if role is Role.VENDOR else None)
        await self._keys.insert_one(
            {
                "_id": hash_api_key(key),
                "key_id": key_id_of(key),
                "principal_id": principal.id,
                "role": role.value,
                "name": name,
                "email": email.lower() if email else None,
                "vendor_id": principal.vendor_id,
                "created_at": now,
                "expires_at": expires_at,
                "revoked": False,
            }
        )
        return key, principal

    async def find_by_email(self, email: str, role: Role | None = None) -> Principal | None:
        """Return the principal registered with this e-mail address (of this role, if given)."""
        query: dict = {"email": email.lower()}
        if role is not None:
            query["role"] = role.value
        record = await self._keys.find_one(query)
        return principal_of(record) if record is not None else None

    async def active_staff_by_email(self, email: str) -> Principal | None:
        """Return the agent or admin holding an unrevoked, unexpired key with this e-mail address, if any."""
        now = self._clock.now()
        query = {"email": email.lower(), "role": {"$in": [Role.AGENT.value, Role.ADMIN.value]}, "revoked": False}
        async for record in self._keys.find(query):
            expires_at = record.get("expires_at")
            if expires_at is None or expires_at > now:
                return principal_of(record)
        return None

    async def register_reporter(self, email: str, name: str, now: datetime) -> Principal:
        """Return a reporter identity for an e-mail address, creating one without an API key if new."""
        known = await self.find_by_email(email, Role.REPORTER)
        if known is not None:
            return known
        principal = Principal(id=new_id(), role=Role.REPORTER, name=name, email=email.lower())
        await self._keys.insert_one(
            {"_id": f"no-key:{principal.id}", "key_id": f"no-key-{principal.id}", "principal_id": principal.id,
             "role": Role.REPORTER.value, "name": name, "email": principal.email, "created_at": now,
             "revoked": True, "source": "email"}
        )
        return principal

    async def authenticate(self, key: str) -> Principal | None:
        """Return the principal for a valid key that is neither revoked nor expired, else None."""
        if len(key) > 200:
            return None
        record = await self._keys.find_one({"_id": hash_api_key(key)})
        if record is None or record.get("revoked"):
            return None
        expires_at = record.get("expires_at")
        if expires_at is not None and expires_at <= self._clock.now():
            return None
        return principal_of(record)

    async def list(self, role: Role | None = None) -> list[dict[str, Any]]:
        """Return every key (as key_view shows it), newest first; an admin's question, not a hot path."""
        query = {"role": role.value} if role is not None else {}
        now = self._clock.now()
        found = [key_view(record, now) async for record in self._keys.find(query)]
        return sorted(found, key=lambda k: k["created_at"] or now, reverse=True)

    async def revoke(self, key_id: str, now: datetime) -> dict[str, Any] | None:
        """Revoke one key by its public id; return it as shown after, or None if there is no such key."""
        record = await self._keys.find_one({"key_id": key_id})
        if record is None and re.fullmatch(r"[0-9a-f]{16}", key_id):  # keys issued before key ids were stored
            record = await self._keys.find_one({"_id": {"$regex": f"^{key_id}"}})
        if record is None:
            return None
        after = await self._keys.find_one_and_update({"_id": record["_id"]},
                                                     {"$set": {"revoked": True, "revoked_at": now}},
                                                     return_document=ReturnDocument.AFTER)
        return key_view(after, now) if after is not None else None

    async def revoke_principal(self, principal_id: str, now: datetime) -> int:
        """Revoke every key of one user; return how many were active."""
        revoked = 0
        async for record in self._keys.find({"principal_id": principal_id}):
            if not record.get("revoked"):
                await self._keys.find_one_and_update({"_id": record["_id"]},
                                                     {"$set": {"revoked": True, "revoked_at": now}})
                revoked += 1
        return revoked
