"""The on-call configuration the API and the CLI change: one document, `oncall/config`, read by `_id`.

The whole stored configuration (people, schedules, policies, overrides) is one document: every change is
one compare-and-set on its revision (`{_id, rev}`, atomic on MongoDB and in the docstore's write gate),
so a change is either stored whole or not at all, and two changes never interleave. Readers ask for the
revision alone first (`find_one` by `_id` with a projection) and reread the document only when it moved.
Overrides that ended long ago are dropped on every write, so the document stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import update_if

COLLECTION = "oncall"
CONFIG_ID = "config"


@dataclass(frozen=True)
class StoredConfig:
    """The stored document's content (the on-call document shape, JSON values) at a revision (0: none yet)."""

    rev: int
    content: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    updated_by: str | None = None


class OnCallStore(Protocol):
    """Where the API's on-call configuration lives."""

    async def revision(self) -> int: ...

    async def read(self) -> StoredConfig: ...

    async def write(self, rev: int, content: dict[str, Any], by: str, now: datetime) -> bool: ...


class MongoOnCallStore:
    """The configuration document in MongoDB (or the docstore)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def revision(self) -> int:
        """Return the stored revision (0 if nothing was ever stored)."""
        document = await self.collection.find_one({"_id": CONFIG_ID}, {"rev": 1})
        return int(document["rev"]) if document else 0

    async def read(self) -> StoredConfig:
        """Return the stored configuration."""
        document = await self.collection.find_one({"_id": CONFIG_ID})
        if document is None:
            return StoredConfig(0)
        return StoredConfig(int(document["rev"]), document.get("content") or {}, document.get("updated_at"),
                            document.get("updated_by"))

    async def write(self, rev: int, content: dict[str, Any], by: str, now: datetime) -> bool:
        """Store content if the document is still at `rev`; return False when someone else changed it first."""
        fields = {"content": content, "updated_at": now, "updated_by": by}
        if rev == 0:
            try:
                await self.collection.insert_one({"_id": CONFIG_ID, "rev": 1, **fields})
            except DuplicateKeyError:
                return False
            return True
        return await update_if(self.collection, CONFIG_ID, {"rev": rev}, {"$set": fields}) is not None
