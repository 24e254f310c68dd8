"""Feature-request votes: one document per request (`_id` = ticket id) whose voters are its keys."""

from __future__ import annotations

import asyncio
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from shared.persistence import IndexSpec

COLLECTION = "votes"
INDEXES: list[IndexSpec] = []
"""Read and written by _id only."""


class MongoVotes:
    """Vote records; the count shown on a ticket is kept on the ticket itself."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]

    async def add(self, ticket_id: str, voter_id: str, now: datetime) -> int | None:
        """Record a vote and return the new number of voters; None if this voter had voted already (one write)."""
        before = await self.collection.find_one_and_update(
            {"_id": ticket_id}, {"$set": {f"voters.{voter_id}": now}}, upsert=True,
            return_document=ReturnDocument.BEFORE)
        voters = (before or {}).get("voters") or {}
        if voter_id in voters:
            return None
        return len(voters) + 1

    async def voted(self, ticket_ids: list[str], voter_id: str) -> set[str]:
        """Return which of these requests the voter has voted for (one lookup by _id each, concurrently)."""
        found = await asyncio.gather(*(self.collection.find_one({"_id": ticket_id}, {f"voters.{voter_id}": 1})
                                       for ticket_id in ticket_ids))
        return {ticket_id for ticket_id, document in zip(ticket_ids, found, strict=True)
                if document is not None and voter_id in (document.get("voters") or {})}

    async def count(self, ticket_id: str) -> int:
        """Return how many distinct users voted for a ticket."""
        document = await self.collection.find_one({"_id": ticket_id})
        return len((document or {}).get("voters") or {})
