"""Per (channel, recipient) send slots in the `rate_slots` collection: one message per interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.domain.deliveries import NEVER
from shared.documents import guarded_update

COLLECTION = "rate_slots"


class RateSlots(Protocol):
    """Grants the next send slot of a key to one holder at a time."""

    async def acquire(self, key: str, holder: str, now: datetime, interval: timedelta) -> datetime | None: ...


class MongoRateSlots:
    """Slots as documents `{_id: key, free_at, holder}`; the holder may re-take its own slot after a crash."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def acquire(self, key: str, holder: str, now: datetime, interval: timedelta) -> datetime | None:
        """Take the slot for holder and return None, or return when the current slot frees up."""
        await self.collection.update_one({"_id": key}, {"$setOnInsert": {"free_at": NEVER, "holder": None}}, upsert=True)
        update = {"$set": {"free_at": now + interval, "holder": holder}}
        for condition in ({"holder": holder}, {"free_at": {"$lte": now}}):
            if await guarded_update(self.collection, key, condition, update):
                return None
        document = await self.collection.find_one({"_id": key})
        return document["free_at"] if document else now + interval
