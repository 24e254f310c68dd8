"""The `sla_clocks` collection: one clock record per ticket; when each falls due is kept in a Schedule.

A clock record holds the ticket's clocks (response, resolution, hand-off), what escalation knows of
the ticket (tier, team, status, pages, vendor hand-off, auto-close) and the steps already fired.

Documents are written by the event consumer, the timer loop, the vendor reply consumer and the
outbox relays of every escalation replica, so every change after creation is a revision-guarded
update (compare-and-set on `{_id, rev}`), and the timer loop fires a clock only under its lease.

Due times live in the `sla_clocks` timing wheel (shared.schedule), written ahead of the document:
a save that moves `next_due_at` and a claim that takes a lease add an entry first, so the timer loop
finds every clock that may be due without querying this collection.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import REVISION, guarded_update, write_at_revision
from shared.locks import KeyedLocks
from shared.matching import matches
from shared.persistence import IndexSpec
from shared.schedule import Schedule, ScheduledDocuments, claim_lease, due_times

COLLECTION = "sla_clocks"
COUNTERS = "escalation_counters"
INDEXES = [IndexSpec(COLLECTION, [("vendor_outbox.message_id", 1)], options={"sparse": True})]
"""For the start-up scan of hand-offs still owed to vendors (pending_vendor_messages), on MongoDB."""
APPENDED = ("outbox", "vendor_outbox")
"""Arrays only ever appended to by a change (relays pop them concurrently), never replaced."""


class ClockRecords(Protocol):
    """Clock records with revision-guarded saves and lease-based claiming."""

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def create(self, document: dict[str, Any]) -> bool: ...

    locks: KeyedLocks
    """Serialises one process's updates of a clock; saves wasted retries only (the revision guard decides)."""

    async def save(self, before: dict[str, Any], after: dict[str, Any], outbox: list[dict[str, Any]],
                   vendor_outbox: list[dict[str, Any]], condition: dict[str, Any] | None = None) -> dict[str, Any] | None: ...

    async def due(self, now: datetime, limit: int) -> list[str]: ...

    async def handled(self, ticket_id: str) -> None: ...

    async def postpone(self, ticket_id: str, now: datetime) -> None: ...

    async def index_existing(self, now: datetime) -> int | None: ...

    async def claim(self, ticket_id: str, now: datetime, lease_until: datetime, owner: str) -> bool: ...

    async def next_sequence(self) -> int: ...


WRITE_BEHIND = timedelta(seconds=5)
"""A due time this close to a save is scheduled again after the save (see MongoClocks.save)."""


def state_of(document: dict[str, Any]) -> dict[str, Any]:
    """Return the fields a change replaces: everything but the id, the revision and the appended arrays."""
    return {k: v for k, v in document.items() if k not in ("_id", REVISION, *APPENDED)}


class MongoClocks(ScheduledDocuments):
    """Clock records in MongoDB (or the docstore)."""

    def __init__(self, db: AsyncDatabase, locks: KeyedLocks | None = None) -> None:
        self.collection = db[COLLECTION]
        self.locks = locks if locks is not None else KeyedLocks()
        self._counters = db[COUNTERS]
        self.schedule = Schedule(db, COLLECTION)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return the clock record of a ticket, if any (records written before `clocks` was named read the same)."""
        document = await self.collection.find_one({"_id": ticket_id})
        if document is not None and "clocks" not in document:
            document["clocks"] = document.pop("targets", {})
        return document

    async def create(self, document: dict[str, Any]) -> bool:
        """Insert a new clock record; return False if the ticket already has one (insert, not an upsert: see README)."""
        if document.get("next_due_at") is not None:
            await self.schedule.add(document["_id"], document["next_due_at"], document["updated_at"])
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def save(self, before: dict[str, Any], after: dict[str, Any], outbox: list[dict[str, Any]],
                   vendor_outbox: list[dict[str, Any]], condition: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Store `after` and append owed messages if the record is still at `before`'s revision; return it as written.

        One compare-and-set on the revision (write_at_revision): a write by another task or replica
        since `before` was read makes it return None. A new due time is scheduled first; a save under a condition (the timer loop's, which has just
        used up the entry that brought it) schedules even an unchanged one. None on a lost race.
        """
        if condition and not matches(before, condition):
            return None
        due_at = after.get("next_due_at")
        if due_at is not None and (condition is not None or due_at != before.get("next_due_at")):
            await self.schedule.add(after["_id"], due_at, after["updated_at"])
        update: dict[str, Any] = {"$set": state_of(after)}
        pushes = {name: {"$each": items} for name, items in (("outbox", outbox), ("vendor_outbox", vendor_outbox))
                  if items}
        if pushes:
            update["$push"] = pushes
        written = await write_at_revision(self.collection, before, update)
        if written is not None and due_at is not None and due_at <= after["updated_at"] + WRITE_BEHIND:
            # due already: a timer pass between the entry above and this write found the record not yet
            # due and used the entry up; this one comes after the write, so the step cannot be skipped
            await self.schedule.add(after["_id"], due_at, after["updated_at"])
        return written

    async def index_existing(self, now: datetime) -> int | None:
        """Schedule clocks stored before the schedule existed (once); return how many entries were added."""

        async def existing():
            async for document in self.collection.find({}, {"next_due_at": 1, "lease_until": 1}):
                for item in due_times(document, ("next_due_at", "lease_until")):
                    yield item

        return await self.schedule.backfill_once(existing(), now)

    async def claim(self, ticket_id: str, now: datetime, lease_until: datetime, owner: str) -> bool:
        """Lease a due clock to owner; return False if it is not due or another owner holds it."""
        condition = {"next_due_at": {"$lte": now}, "lease_until": {"$lte": now}}
        return await claim_lease(self.schedule, self.collection, ticket_id, condition, now, lease_until, owner)

    async def next_sequence(self) -> int:
        """Return the next escalation ticket-number sequence value (one atomic `$inc`, unique across replicas)."""
        counter = await self._counters.find_one_and_update(
            {"_id": "ticket_number"}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(counter["seq"])

    async def pending_vendor_messages(self, limit: int) -> list[dict[str, Any]]:
        """Return documents that owe vendors a hand-off (only the vendor outbox is read)."""
        return await self.collection.find({"vendor_outbox.message_id": {"$exists": True}}, {"vendor_outbox": 1}).limit(
            limit).to_list()

    async def pop_vendor_message(self, ticket_id: str, message_id: str) -> None:
        """Remove the vendor outbox head if it is still this message."""
        await guarded_update(self.collection, ticket_id, {"vendor_outbox.0.message_id": message_id},
                             {"$pop": {"vendor_outbox": -1}})
