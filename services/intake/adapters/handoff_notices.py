"""The `handoff_notices` collection: one document per on-call hand-off notice, inserted once with its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "handoff_notices"


class MongoHandoffNotices:
    """Notices by `_id` (the announcing event's id): inserting is the claim."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def record(self, notice_id: str, envelope: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Insert the notice with its event owed; return it, or None if it was recorded before."""
        document = {"_id": notice_id, "created_at": now, "outbox": [envelope]}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return None
        return document
