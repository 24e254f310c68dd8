"""The `sla_clocks` collection: one document per ticket, indexed on when it next falls due."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.persistence import IndexSpec

COLLECTION = "sla_clocks"
INDEXES = [IndexSpec(COLLECTION, [("next_due_at", 1)])]


class MongoClocks:
    """SLA clock persistence."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def start(self, ticket_id: str, fields: dict[str, Any]) -> None:
        """Create the clock for a ticket, or leave an existing one as it is (idempotent)."""
        await self.collection.update_one({"_id": ticket_id}, {"$setOnInsert": fields}, upsert=True)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return the clock of a ticket, if any."""
        return await self.collection.find_one({"_id": ticket_id})
