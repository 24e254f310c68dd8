"""The `tickets` collection: the system of record, with its embedded outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from pymongo.asynchronous.database import AsyncDatabase

from shared.documents import guarded_update
from shared.locks import KeyedLocks
from shared.persistence import IndexSpec

COLLECTION = "tickets"
COUNTERS = "counters"
NUMBERS = "ticket_numbers"
"""number -> ticket id, for every number a ticket has had: lookups by `_id` stay fast on the docstore."""
HIDDEN = {"outbox": 0, "applied_events": 0, "rev": 0}
"""Bookkeeping fields never shown outside the repository."""

INDEXES = [
    IndexSpec(COLLECTION, [("number", 1)], unique=True),
    IndexSpec(COLLECTION, [("reporter.id", 1), ("created_at", -1)]),
    IndexSpec(COLLECTION, [("created_at", -1)]),
    IndexSpec(COLLECTION, [("kind", 1), ("votes", -1)]),
]


APPLIED_EVENTS_KEPT = 200
"""Event ids a ticket remembers as applied: redeliveries come soon after the first delivery."""


def remember_event(ticket: dict[str, Any], event_id: str) -> list[str]:
    """Return the ticket's applied event ids with event_id added, keeping the latest APPLIED_EVENTS_KEPT."""
    return [*ticket.get("applied_events", []), event_id][-APPLIED_EVENTS_KEPT:]


class MongoTickets:
    """Ticket persistence; every update is a guarded single-document write."""

    def __init__(
        self, db: AsyncDatabase, locks: KeyedLocks | None = None, on_outbox: Callable[[str, str], None] | None = None
    ) -> None:
        self.collection = db[COLLECTION]
        self._numbers = db[NUMBERS]
        self._on_outbox = on_outbox or (lambda collection, ticket_id: None)
        self.locks = locks if locks is not None else KeyedLocks()
        self._counters = db[COUNTERS]
        self._sequence_lock = asyncio.Lock()

    async def next_sequence(self, name: str = "ticket") -> int:
        """Return the next value of a monotonically increasing counter.

        Calls within one process are serialised because the docstore's `$inc` is not atomic under
        concurrent writers; across replicas the unique index on `number` catches a repeat.
        """
        async with self._sequence_lock:
            counter = await self._counters.find_one_and_update(
                {"_id": name}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
            )
        return int(counter["seq"])

    async def reserve_number(self, number: str, ticket_id: str) -> None:
        """Record that number belongs to ticket_id; raises DuplicateKeyError if another ticket has it."""
        try:
            await self._numbers.insert_one({"_id": number, "ticket_id": ticket_id})
        except DuplicateKeyError:
            existing = await self._numbers.find_one({"_id": number})
            if existing is None or existing["ticket_id"] != ticket_id:
                raise

    async def insert(self, document: dict[str, Any]) -> None:
        """Reserve the ticket's number, then insert it; raises DuplicateKeyError if the number is taken."""
        await self.reserve_number(document["number"], document["_id"])
        await self.collection.insert_one(document)
        if document.get("outbox"):
            self._on_outbox(COLLECTION, document["_id"])

    async def by_number(self, number: str) -> dict[str, Any] | None:
        """Return the ticket that has or had this number, without internal bookkeeping fields."""
        reservation = await self._numbers.find_one({"_id": number})
        if reservation is not None:
            return await self.get(reservation["ticket_id"])
        return None

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return the ticket with this id, without internal bookkeeping fields."""
        return await self.collection.find_one({"_id": ticket_id}, HIDDEN)

    async def change(
        self,
        ticket_id: str,
        condition: dict[str, Any],
        fields: dict[str, Any],
        entries: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> bool:
        """Apply fields, timeline entries and owed events atomically if condition still holds."""
        update: dict[str, Any] = {"$push": {"timeline": {"$each": entries}, "outbox": {"$each": events}}}
        if fields:
            update["$set"] = fields
        changed = await guarded_update(self.collection, ticket_id, condition, update, locks=self.locks)
        if changed and events:
            self._on_outbox(COLLECTION, ticket_id)
        return changed

    async def search(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Return up to limit tickets matching query, newest first (ids are time-ordered ULIDs)."""
        cursor = self.collection.find(query, HIDDEN).sort("_id", -1).limit(limit)
        return await cursor.to_list()

    async def apply_once(self, ticket_id: str, event_id: str, fields: dict[str, Any],
                         entry: dict[str, Any] | None) -> bool:
        """Apply an event's changes (and timeline entry, if any) unless already applied; True if this call did.

        Raises LookupError if the ticket does not exist.
        """

        def update(current: dict[str, Any]) -> dict[str, Any]:
            change: dict[str, Any] = {"$set": {**fields, "applied_events": remember_event(current, event_id)}}
            if entry is not None:
                change["$push"] = {"timeline": entry}
            return change

        return await guarded_update(self.collection, ticket_id, {"applied_events": {"$ne": event_id}}, update,
                                    locks=self.locks)
