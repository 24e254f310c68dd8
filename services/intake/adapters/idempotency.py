"""Idempotency records for creates: the first response to a key is replayed for the same body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import update_by_id
from shared.persistence import IndexSpec

COLLECTION = "idempotency_keys"
INDEXES = [IndexSpec(COLLECTION, [("created_at", 1)])]


class MongoIdempotency:
    """One record per (caller, key): in progress, then the stored response."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def begin(self, caller_id: str, key: str, body_hash: str, now: datetime) -> dict[str, Any] | None:
        """Claim the key; return None if it is new, else the existing record."""
        record_id = f"{caller_id}:{key}"
        try:
            await self.collection.insert_one(
                {"_id": record_id, "body_hash": body_hash, "state": "in_progress", "created_at": now}
            )
        except DuplicateKeyError:
            return await self.collection.find_one({"_id": record_id})
        return None

    async def finish(self, caller_id: str, key: str, status: int, body: Any, headers: dict[str, str]) -> None:
        """Store the response so a retry with the same key gets it back."""
        await update_by_id(self.collection, f"{caller_id}:{key}",
                           {"$set": {"state": "done", "status": status, "body": body, "headers": headers}})

    async def abandon(self, caller_id: str, key: str) -> None:
        """Forget a key whose request failed, so the client may retry it."""
        await self.collection.delete_one({"_id": f"{caller_id}:{key}", "state": "in_progress"})
