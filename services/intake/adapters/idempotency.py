"""Idempotency records for creates: the first response to a key is replayed for the same body, for 24 hours.

A record older than EXPIRES_AFTER is gone (a new request with the key starts afresh), and one left
`in_progress` longer than ABANDONED_AFTER belonged to a request that died with its process (a crash
mid-request); the next request with the key takes it over. Taking over is a compare-and-set on the
record as read, so two retries never both proceed. Records are deleted when they expire through a
timing wheel (shared/schedule.py, written before the record), so nothing scans for old ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import update_by_id, update_if
from shared.persistence import IndexSpec
from shared.schedule import Schedule

COLLECTION = "idempotency_keys"
EXPIRES_AFTER = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
"""Longer than any request may take (the gateway's timeouts are far shorter)."""
INDEXES = [IndexSpec(COLLECTION, [("created_at", 1)])]


def is_stale(record: dict[str, Any], now: datetime) -> bool:
    """Return True if a record no longer binds its key: expired, or abandoned in progress."""
    age = now - record["created_at"]
    return age >= EXPIRES_AFTER or (record.get("state") == "in_progress" and age >= ABANDONED_AFTER)


class MongoIdempotency:
    """One record per (caller, key): in progress, then the stored response."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]
        self.expiry = Schedule(db, COLLECTION, bucket_seconds=600)

    async def begin(self, caller_id: str, key: str, body_hash: str, now: datetime) -> dict[str, Any] | None:
        """Claim the key; return None if this request may proceed, else the record that binds the key."""
        record_id = f"{caller_id}:{key}"
        fresh = {"body_hash": body_hash, "state": "in_progress", "created_at": now}
        await self.expiry.add(record_id, now + EXPIRES_AFTER, now)
        try:
            await self.collection.insert_one({"_id": record_id, **fresh})
            return None
        except DuplicateKeyError:
            existing = await self.collection.find_one({"_id": record_id})
        if existing is None:  # expired and deleted in between: try once more
            return await self.begin(caller_id, key, body_hash, now)
        if is_stale(existing, now):
            taken = await update_if(self.collection, record_id,
                                    {"state": existing["state"], "created_at": existing["created_at"]},
                                    {"$set": fresh, "$unset": {"status": "", "body": "", "headers": ""}})
            if taken is not None:
                return None
            return await self.collection.find_one({"_id": record_id})
        return existing

    async def finish(self, caller_id: str, key: str, status: int, body: Any, headers: dict[str, str]) -> None:
        """Store the response so a retry with the same key gets it back."""
        await update_by_id(self.collection, f"{caller_id}:{key}",
                           {"$set": {"state": "done", "status": status, "body": body, "headers": headers}})

    async def abandon(self, caller_id: str, key: str) -> None:
        """Forget a key whose request failed, so the client may retry it."""
        await self.collection.delete_one({"_id": f"{caller_id}:{key}", "state": "in_progress"})

    async def expire(self, now: datetime, limit: int = 500) -> int:
        """Delete the records that have expired by now (each only if not taken over since); return how many."""
        deleted = 0
        for record_id in await self.expiry.due_keys(now, limit):
            result = await self.collection.delete_one({"_id": record_id, "created_at": {"$lte": now - EXPIRES_AFTER}})
            deleted += result.deleted_count
            await self.expiry.handled(record_id)
        return deleted
