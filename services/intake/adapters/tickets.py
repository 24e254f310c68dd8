"""The `tickets` collection: the system of record, with its embedded outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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

Fields = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
"""The $set of a change, or a function computing it from the current ticket (inside the guarded write)."""


class Tickets(Protocol):
    """The ticket store the service layer writes through; every change is one atomic, guarded write."""

    async def next_sequence(self, name: str = "ticket") -> int: ...

    async def reserve_number(self, number: str, ticket_id: str) -> None: ...

    async def insert(self, document: dict[str, Any]) -> None: ...

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def by_number(self, number: str) -> dict[str, Any] | None: ...

    async def applied(self, ticket_id: str, event_id: str) -> bool: ...

    async def change(self, ticket_id: str, condition: dict[str, Any], fields: Fields,
                     entries: list[dict[str, Any]], events: list[dict[str, Any]], *,
                     event_id: str | None = None) -> bool: ...


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

    async def applied(self, ticket_id: str, event_id: str) -> bool:
        """Return True if the event was already applied to the ticket (LookupError if there is no ticket)."""
        document = await self.collection.find_one({"_id": ticket_id}, {"applied_events": 1})
        if document is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        return event_id in document.get("applied_events", [])

    async def change(
        self,
        ticket_id: str,
        condition: dict[str, Any],
        fields: Fields,
        entries: list[dict[str, Any]],
        events: list[dict[str, Any]],
        *,
        event_id: str | None = None,
    ) -> bool:
        """Apply fields, timeline entries and owed events atomically if condition still holds; True once written.

        With an event_id the change is applied once per event: a ticket that already applied it
        does not match. Raises LookupError if the ticket does not exist.
        """

        def update(current: dict[str, Any]) -> dict[str, Any]:
            pushes = {name: {"$each": items} for name, items in (("timeline", entries), ("outbox", events)) if items}
            sets = dict(fields(current) if callable(fields) else fields)
            if event_id is not None:
                sets["applied_events"] = remember_event(current, event_id)
            return {**({"$set": sets} if sets else {}), **({"$push": pushes} if pushes else {})}

        guard = dict(condition)
        if event_id is not None:
            guard["applied_events"] = {"$ne": event_id}
        changed = await guarded_update(self.collection, ticket_id, guard, update, locks=self.locks)
        if changed and events:
            self._on_outbox(COLLECTION, ticket_id)
        return changed

    async def search(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Return up to limit tickets matching query, newest first (ids are time-ordered ULIDs)."""
        cursor = self.collection.find(query, HIDDEN).sort("_id", -1).limit(limit)
        return await cursor.to_list()

    async def feature_requests(self, limit: int) -> list[dict[str, Any]]:
        """Return up to limit feature requests not closed, most votes first."""
        cursor = self.collection.find(
            {"kind": "feature_request", "status": {"$ne": "closed"}},
            {"number": 1, "title": 1, "use_case": 1, "importance": 1, "status": 1, "votes": 1, "created_at": 1},
        ).sort([("votes", -1), ("_id", -1)]).limit(limit)
        return await cursor.to_list()
