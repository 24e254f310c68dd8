"""Feature-request votes: one document per (ticket, voter), so a user votes once."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.persistence import IndexSpec

COLLECTION = "votes"
INDEXES = [IndexSpec(COLLECTION, [("ticket_id", 1)])]


class MongoVotes:
    """Vote records; the count shown on a ticket is kept on the ticket itself."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def add(self, ticket_id: str, voter_id: str, now: datetime) -> bool:
        """Record a vote; return False if this voter already voted for this ticket."""
        try:
            await self.collection.insert_one({"_id": f"{ticket_id}:{voter_id}", "ticket_id": ticket_id,
                                              "voter_id": voter_id, "at": now})
        except DuplicateKeyError:
            return False
        return True

    async def count(self, ticket_id: str) -> int:
        """Return how many distinct users voted for a ticket."""
        return await self.collection.count_documents({"ticket_id": ticket_id})
