"""The `deliveries` collection: one document per (event, recipient, channel) with every attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.persistence import IndexSpec

COLLECTION = "deliveries"
INDEXES = [IndexSpec(COLLECTION, [("ticket_id", 1)]), IndexSpec(COLLECTION, [("state", 1), ("updated_at", 1)])]


class MongoDeliveries:
    """Delivery records; `delivered` is final and is never sent again."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def open(self, delivery_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Return the delivery record, creating it as pending if it is new."""
        await self.collection.update_one(
            {"_id": delivery_id}, {"$setOnInsert": {**fields, "state": "pending", "attempts": []}}, upsert=True
        )
        record = await self.collection.find_one({"_id": delivery_id})
        assert record is not None
        return record

    async def record_attempt(
        self, delivery_id: str, *, at: datetime, outcome: str, error: str | None, duration_seconds: float
    ) -> None:
        """Append an attempt; a delivered outcome makes the record final."""
        update: dict[str, Any] = {
            "$push": {"attempts": {"at": at, "outcome": outcome, "error": error, "duration_seconds": duration_seconds}},
            "$set": {"updated_at": at},
        }
        if outcome == "delivered":
            update["$set"].update({"state": "delivered", "delivered_at": at})
        await self.collection.update_one({"_id": delivery_id}, update)
