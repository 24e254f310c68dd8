"""API keys stored as SHA-256 hashes in the `api_keys` collection."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from shared.ids import hash_api_key, new_api_key, new_id
from shared.persistence import IndexSpec
from services.intake.domain.principals import Principal, Role

COLLECTION = "api_keys"
INDEXES = [IndexSpec(COLLECTION, [("principal_id", 1)])]


class ApiKeys(Protocol):
    """Issues keys and resolves a presented key to its principal."""

    async def create(self, role: Role, name: str, email: str | None, now: datetime) -> tuple[str, Principal]: ...

    async def authenticate(self, key: str) -> Principal | None: ...


class MongoApiKeys:
    """API keys in MongoDB; the plain key is never stored."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[COLLECTION]

    async def create(self, role: Role, name: str, email: str | None, now: datetime) -> tuple[str, Principal]:
        """Store a new key's hash and return (plain key, principal)."""
        key = new_api_key()
        principal = Principal(id=new_id(), role=role, name=name, email=email)
        await self._keys.insert_one(
            {
                "_id": hash_api_key(key),
                "principal_id": principal.id,
                "role": role.value,
                "name": name,
                "email": email,
                "created_at": now,
                "revoked": False,
            }
        )
        return key, principal

    async def authenticate(self, key: str) -> Principal | None:
        """Return the principal for a valid, unrevoked key, else None."""
        if len(key) > 200:
            return None
        record = await self._keys.find_one({"_id": hash_api_key(key)})
        if record is None or record.get("revoked"):
            return None
        return Principal(id=record["principal_id"], role=Role(record["role"]), name=record["name"], email=record.get("email"))
