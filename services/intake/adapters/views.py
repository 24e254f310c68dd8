"""The `ticket_views` collection: intake's read models, each document read and written by `_id` only.

See services/intake/domain/views.py for the documents and why. Writes are idempotent `$set` /
`$unset` of whole entries (upserted), so a repeat is harmless; reads fetch a few documents by
`_id` (concurrently) and filter in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.views import FEATURE_BUCKETS, OPEN_BUCKETS

COLLECTION = "ticket_views"


class MongoViews:
    """Reads and writes of the view documents."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def apply(self, updates: dict[str, dict[str, Any]]) -> None:
        """Apply each document's update (upserting, except pure removals); by `_id`, one command each."""
        for doc_id, update in updates.items():
            await self.collection.find_one_and_update({"_id": doc_id}, update, upsert="$unset" not in update)

    async def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the view documents that exist among doc_ids, fetched concurrently by `_id`."""
        ids = list(dict.fromkeys(doc_ids))
        found = await asyncio.gather(*(self.collection.find_one({"_id": doc_id}) for doc_id in ids))
        return {doc_id: document for doc_id, document in zip(ids, found, strict=True) if document is not None}

    async def entries(self, doc_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Return every entry of the given view documents."""
        documents = await self.documents(doc_ids)
        return [entry for document in documents.values() for entry in (document.get("entries") or {}).values()]

    async def open_entries(self) -> list[dict[str, Any]]:
        """Return the summary of every ticket not Closed."""
        return await self.entries(f"open:{bucket}" for bucket in range(OPEN_BUCKETS))

    async def feature_entries(self) -> list[dict[str, Any]]:
        """Return the summary of every feature request not Closed."""
        return await self.entries(f"features:{bucket}" for bucket in range(FEATURE_BUCKETS))

    async def replace_all(self, documents: dict[str, dict[str, Any]]) -> None:
        """Replace every view document by the given ones (a rebuild); documents not given are removed."""
        keep = set(documents)
        async for existing in self.collection.find({}, {"_id": 1}):
            if existing["_id"] not in keep:
                await self.collection.delete_one({"_id": existing["_id"]})
        for doc_id, document in documents.items():
            await self.collection.find_one_and_replace({"_id": doc_id}, {"_id": doc_id, **document}, upsert=True)
