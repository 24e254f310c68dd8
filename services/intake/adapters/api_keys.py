"""API keys stored as SHA-256 hashes in the `api_keys` collection."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.principals import Principal, Role
from shared.ids import hash_api_key, new_api_key, new_id
from shared.persistence import IndexSpec

COLLECTION = "api_keys"
INDEXES = [IndexSpec(COLLECTION, [("principal_id", 1)]), IndexSpec(COLLECTION, [("email", 1)])]


class ApiKeys(Protocol):
    """Issues keys and resolves a presented key to its principal."""

    async def create(self, role: Role, name: str, email: str | None, now: datetime) -> tuple[str, Principal]: ...

    async def find_by_email(self, email: str, role: Role | None = None) -> Principal | None: ...

    async def register_reporter(self, email: str, name: str, now: datetime) -> Principal: ...

    async def active_staff_by_email(self, email: str) -> Principal | None: ...

    async def authenticate(self, key: str) -> Principal | None: ...


class MongoApiKeys:
    """API keys in MongoDB; the plain key is never stored."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[COLLECTION]

    async def create(self, role: Role, name: str, email: str | None, now: datetime) -> tuple[str, Principal]:
        """Store a new key's hash and return (plain key, principal); a known e-mail keeps its identity."""
        key = new_api_key()
        known = await self.find_by_email(email, role) if email else None
        principal = Principal(id=known.id if known else new_id(), role=role, name=name, email=email)
        await self._keys.insert_one(
            {
                "_id": hash_api_key(key),
                "principal_id": principal.id,
                "role": role.value,
                "name": name,
                "email": email.lower() if email else None,
                "created_at": now,
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
        if record is None:
            return None
        return Principal(id=record["principal_id"], role=Role(record["role"]), name=record["name"], email=record["email"])

    async def active_staff_by_email(self, email: str) -> Principal | None:
        """Return the agent or admin holding an unrevoked key with this e-mail address, if any."""
        record = await self._keys.find_one({"email": email.lower(), "role": {"$in": [Role.AGENT.value, Role.ADMIN.value]},
                                            "revoked": False})
        if record is None:
            return None
        return Principal(id=record["principal_id"], role=Role(record["role"]), name=record["name"], email=record["email"])

    async def register_reporter(self, email: str, name: str, now: datetime) -> Principal:
        """Return a reporter identity for an e-mail address, creating one without an API key if new."""
        known = await self.find_by_email(email, Role.REPORTER)
        if known is not None:
            return known
        principal = Principal(id=new_id(), role=Role.REPORTER, name=name, email=email.lower())
        await self._keys.insert_one(
            {"_id": f"no-key:{principal.id}", "principal_id": principal.id, "role": Role.REPORTER.value,
             "name": name, "email": principal.email, "created_at": now, "revoked": True, "source": "email"}
        )
        return principal

    async def authenticate(self, key: str) -> Principal | None:
        """Return the principal for a valid, unrevoked key, else None."""
        if len(key) > 200:
            return None
        record = await self._keys.find_one({"_id": hash_api_key(key)})
        if record is None or record.get("revoked"):
            return None
        return Principal(id=record["principal_id"], role=Role(record["role"]), name=record["name"], email=record.get("email"))
