"""Records keyed by a source's own identifiers: alert groups and dedup keys (`alert_groups`), Slack
requests (`slack_requests`). Each is found by `_id`, claimed by inserting it (a unique `_id` lets one
request win) and changed by compare-and-set on its revision (one atomic command)."""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import update_if

ALERT_GROUPS = "alert_groups"
SLACK_REQUESTS = "slack_requests"


class SourceRecords(Protocol):
    """Records claimed once by `_id` and changed by compare-and-set."""

    async def get(self, record_id: str) -> dict[str, Any] | None: ...

    async def claim(self, document: dict[str, Any]) -> bool: ...

    async def change(self, record_id: str, rev: int, fields: dict[str, Any]) -> dict[str, Any] | None: ...

    async def bump(self, record_id: str, states: list[str], fields: dict[str, Any]) -> dict[str, Any] | None: ...


class MongoSourceRecords:
    """One collection of source records."""

    def __init__(self, db: AsyncDatabase, collection: str) -> None:
        self.collection = db[collection]

    async def get(self, record_id: str) -> dict[str, Any] | None:
        """Return the record with this `_id`, or None."""
        return await self.collection.find_one({"_id": record_id})

    async def claim(self, document: dict[str, Any]) -> bool:
        """Insert a new record (revision 0); return False if one with its `_id` exists (another request won)."""
        try:
            await self.collection.insert_one({**document, "rev": 0})
        except DuplicateKeyError:
            return False
        return True

    async def change(self, record_id: str, rev: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set fields if the record is still at revision rev (bumping it); return it after, or None if it moved on."""
        return await update_if(self.collection, record_id, {"rev": rev}, {"$set": fields})

    async def bump(self, record_id: str, states: list[str], fields: dict[str, Any]) -> dict[str, Any] | None:
        """Count one more event on a record in one of states (and set fields); return it after, or None.

        One atomic command: the fast path of a repeated trigger in a storm.
        """
        return await update_if(self.collection, record_id, {"state": {"$in": states}},
                               {"$set": fields, "$inc": {"events": 1}})
