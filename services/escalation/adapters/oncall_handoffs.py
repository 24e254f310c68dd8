"""Hand-off notices owed: one document per (schedule, person, shift start), inserted once with its event.

`oncall_handoffs/<schedule>|<person>|<start>` carries the `oncall.shift_started` event in its outbox (the
relay publishes it); inserting is the claim, so replicas that see the same shift start send it once.
How far shift starts have been looked at is `oncall/handoff_cursor`, moved forward by compare-and-set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.escalation.adapters.oncall_store import COLLECTION as CONFIG_COLLECTION
from shared.documents import update_if

COLLECTION = "oncall_handoffs"
CURSOR_ID = "handoff_cursor"


class HandoffRecords(Protocol):
    """Where hand-off notices are claimed and the look-ahead cursor is kept."""

    async def cursor(self) -> datetime | None: ...

    async def move_cursor(self, before: datetime | None, after: datetime) -> bool: ...

    async def record(self, notice_id: str, envelope: dict[str, Any], now: datetime) -> dict[str, Any] | None: ...


class MongoHandoffs:
    """Hand-off notices and their cursor in MongoDB (or the docstore)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]
        self._cursors = db[CONFIG_COLLECTION]

    async def cursor(self) -> datetime | None:
        """Return up to when shift starts were looked at, or None before the first look."""
        document = await self._cursors.find_one({"_id": CURSOR_ID})
        return document["through"] if document else None

    async def move_cursor(self, before: datetime | None, after: datetime) -> bool:
        """Set the cursor to `after` if it is still `before`; return False if another process moved it."""
        if before is None:
            try:
                await self._cursors.insert_one({"_id": CURSOR_ID, "through": after, "rev": 1})
            except DuplicateKeyError:
                return False
            return True
        return await update_if(self._cursors, CURSOR_ID, {"through": before}, {"$set": {"through": after}}) is not None

    async def record(self, notice_id: str, envelope: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Insert a notice with its event owed; return it, or None if it was recorded before."""
        document = {"_id": notice_id, "created_at": now, "outbox": [envelope]}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return None
        return document
