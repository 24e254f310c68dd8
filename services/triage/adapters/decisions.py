"""The `triage_tickets` collection: triage's own record of each ticket it classified."""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import guarded_update
from shared.locks import KeyedLocks
from shared.persistence import IndexSpec

COLLECTION = "triage_tickets"
INDEXES = [IndexSpec(COLLECTION, [("number", 1)])]


class Decisions(Protocol):
    """Triage's per-ticket records (severity, due times, the report it judged)."""

    async def record(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]: ...

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any]
    ) -> bool: ...


class MongoDecisions:
    """Triage records in MongoDB; severity changes are guarded single-document writes."""

    def __init__(self, db: AsyncDatabase, locks: KeyedLocks | None = None) -> None:
        self.collection = db[COLLECTION]
        self.locks = locks if locks is not None else KeyedLocks()

    async def record(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store the first decision for a ticket and return the stored record (a repeat keeps the first)."""
        # insert rather than a $setOnInsert upsert: the docstore drops empty arrays from upserts
        try:
            await self.collection.insert_one({"_id": ticket_id, **fields, "changes": [], "rev": 0})
        except DuplicateKeyError:
            pass
        stored = await self.collection.find_one({"_id": ticket_id})
        assert stored is not None
        return stored

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return triage's record of a ticket, if any."""
        return await self.collection.find_one({"_id": ticket_id})

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any]
    ) -> bool:
        """Set fields and log the change if the severity is still `expected_severity`; return True if written."""
        return await guarded_update(
            self.collection,
            ticket_id,
            {"severity": expected_severity},
            {"$set": fields, "$push": {"changes": change}},
            locks=self.locks,
        )
