"""Read-only look-up of intake's API keys (`api_keys` collection, SHA-256 hashes) to authenticate agents."""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from shared.ids import hash_api_key

COLLECTION = "api_keys"


class KeyRoles(Protocol):
    """Resolves a presented API key to its role."""

    async def role_of(self, key: str) -> str | None: ...


class MongoKeyRoles:
    """Reads the keys intake issues; never writes them."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[COLLECTION]

    async def role_of(self, key: str) -> str | None:
        """Return the role of a valid, unrevoked key, else None."""
        if len(key) > 200:
            return None
        record = await self._keys.find_one({"_id": hash_api_key(key)}, {"role": 1, "revoked": 1})
        if record is None or record.get("revoked"):
            return None
        return record.get("role")
