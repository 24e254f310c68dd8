"""The `deliveries` collection: one document per (event, recipient, channel), every attempt, and its outbox.

Documents are touched by the consumer (create), the delivery loop (claim, settle) and the relay (outbox
pops), in this and other replicas, so every change after creation is a guarded (compare-and-set) update.

When each delivery may next be attempted is kept in the `deliveries` timing wheel (shared.schedule),
written ahead of the document: creating a claimable delivery, leasing one and settling one that stays
claimable add an entry first, so the delivery loop never queries this collection for due work.

The other questions asked of deliveries are answered by index documents in `delivery_index`, read
by `_id` and written ahead of what they point to (stale ids are filtered out on reading): a
ticket's deliveries (`ticket:<id>`), the held deliveries of one contact and channel
(`held:<channel>:<recipient>`), and a digest's members (`digest:<id>`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.domain.deliveries import CLAIMABLE, HELD, LEASES, NEVER
from shared.documents import guarded_update, update_if
from shared.persistence import IndexSpec
from shared.schedule import Schedule, ScheduledDocuments, claim_lease, due_times

COLLECTION = "deliveries"
INDEX = "delivery_index"
DUE_FIELDS = ("next_attempt_at", "lease_until")
"""A claimable delivery is looked at when its next attempt is due and when a live lease runs out."""
INDEXES = [IndexSpec(COLLECTION, [("ticket_id", 1)])]
"""For exports on MongoDB; the service reads its index documents instead."""


class Deliveries(Protocol):
    """Delivery documents with lease-based claiming; `delivered`, `failed` and `digested` are final."""

    async def create(self, document: dict[str, Any]) -> bool: ...

    async def get(self, delivery_id: str) -> dict[str, Any] | None: ...

    async def due(self, now: datetime, limit: int) -> list[str]: ...

    async def handled(self, delivery_id: str) -> None: ...

    async def postpone(self, delivery_id: str, now: datetime) -> None: ...

    async def index_existing(self, now: datetime) -> int | None: ...

    async def claim(self, delivery_id: str, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None: ...

    async def settle(self, delivery_id: str, owner: str, fields: dict[str, Any], *,
                     attempt: dict[str, Any] | None = None, outbox: list[dict[str, Any]] | None = None) -> bool: ...

    async def held_for(self, channel: str, recipient: str) -> list[dict[str, Any]]: ...

    async def join_digest(self, delivery_id: str, digest_id: str, now: datetime, owner: str | None) -> bool: ...

    async def items(self, digest_id: str) -> list[dict[str, Any]]: ...

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]: ...


class MongoDeliveries(ScheduledDocuments):
    """Deliveries in MongoDB (or the docstore)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]
        self.index = db[INDEX]
        self.schedule = Schedule(db, COLLECTION)

    async def _index_add(self, key: str, delivery_id: str) -> None:
        """Add a delivery id to an index document (written before what it points to)."""
        await self.index.find_one_and_update({"_id": key}, {"$addToSet": {"ids": delivery_id}}, upsert=True)

    async def _index_read(self, key: str) -> list[dict[str, Any]]:
        """Return the deliveries an index document names that exist, oldest first."""
        listed = await self.index.find_one({"_id": key})
        found = [await self.get(delivery_id) for delivery_id in (listed or {}).get("ids", [])]
        return sorted((d for d in found if d is not None), key=lambda d: (d["created_at"], d["_id"]))

    async def create(self, document: dict[str, Any]) -> bool:
        """Insert the document unless its id exists; return True if it was new."""
        if document.get("ticket_id"):
            await self._index_add(f"ticket:{document['ticket_id']}", document["_id"])
        if document["state"] in CLAIMABLE:
            # one entry, when it can first be claimed; a delivery created leased is handled by its creator
            await self.schedule.add(document["_id"], claimable_at(document), document["updated_at"],
                                    offered=bool(document.get("lease_owner")))
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        """Return one delivery, or None."""
        return await self.collection.find_one({"_id": delivery_id})

    async def index_existing(self, now: datetime) -> int | None:
        """Schedule claimable deliveries stored before the schedule existed (once); return the entries added."""

        async def existing():
            async for document in self.collection.find({"state": {"$in": list(CLAIMABLE)}},
                                                       {"next_attempt_at": 1, "lease_until": 1}):
                for item in due_times(document, DUE_FIELDS):
                    yield item

        return await self.schedule.backfill_once(existing(), now)

    async def claim(self, delivery_id: str, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None:
        """Lease a due delivery to owner, counting the lease; return it, or None if it is not claimable right now."""
        condition = {"state": {"$in": list(CLAIMABLE)}, "next_attempt_at": {"$lte": now}, "lease_until": {"$lte": now}}
        if not await claim_lease(self.schedule, self.collection, delivery_id, condition, now, lease_until, owner,
                                 count_in=LEASES):
            return None
        document = await self.get(delivery_id)
        return document if document is not None and document.get("lease_owner") == owner else None

    async def settle(self, delivery_id: str, owner: str, fields: dict[str, Any], *,
                     attempt: dict[str, Any] | None = None, outbox: list[dict[str, Any]] | None = None) -> bool:
        """Set fields, append the attempt and outbox events, and release owner's lease (the lease count restarts);
        False if the lease was lost.

        A delivery that stays claimable must be given its `next_attempt_at`, which is scheduled first.
        """
        if fields.get("state", CLAIMABLE[0]) in CLAIMABLE:
            at = fields["next_attempt_at"]
            await self.schedule.add(delivery_id, at, fields.get("updated_at", at))
        if fields.get("state") == HELD:  # rare: a rate-limited message waits for a digest
            held = await self.get(delivery_id)
            if held is not None:
                await self._index_add(held_key(held["channel"], held["recipient"]), delivery_id)
        update: dict[str, Any] = {"$set": {**fields, "lease_until": NEVER, "lease_owner": None, LEASES: 0}}
        pushes: dict[str, Any] = {}
        if attempt is not None:
            pushes["attempts"] = attempt
        if outbox:
            pushes["outbox"] = {"$each": outbox}
        if pushes:
            update["$push"] = pushes
        return await update_if(self.collection, delivery_id, {"lease_owner": owner}, update) is not None

    async def held_for(self, channel: str, recipient: str) -> list[dict[str, Any]]:
        """Return the held deliveries of one (channel, recipient)."""
        return [d for d in await self._index_read(held_key(channel, recipient)) if d["state"] == HELD]

    async def join_digest(self, delivery_id: str, digest_id: str, now: datetime, owner: str | None) -> bool:
        """Move a held delivery into a digest if it is unleased (or leased by owner); return True if moved."""
        await self._index_add(f"digest:{digest_id}", delivery_id)
        condition: dict[str, Any] = {"state": HELD}
        condition.update({"lease_owner": owner} if owner is not None else {"lease_until": {"$lte": now}})
        update = {"$set": {"state": "digested", "digest_id": digest_id, "updated_at": now,
                           "lease_until": NEVER, "lease_owner": None}}
        return await guarded_update(self.collection, delivery_id, condition, update)

    async def items(self, digest_id: str) -> list[dict[str, Any]]:
        """Return the deliveries folded into a digest."""
        return [d for d in await self._index_read(f"digest:{digest_id}") if d.get("digest_id") == digest_id]

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        """Return a ticket's deliveries, oldest first."""
        return await self._index_read(f"ticket:{ticket_id}")


def claimable_at(document: dict[str, Any]) -> datetime:
    """Return when a delivery can next be claimed: its next attempt is due and no lease is live."""
    return max(document["next_attempt_at"], document["lease_until"])


def held_key(channel: str, recipient: str) -> str:
    """Return the index key of the held deliveries of one contact on one channel."""
    return f"held:{channel}:{recipient}"
