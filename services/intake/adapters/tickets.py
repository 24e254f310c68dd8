"""The `tickets` collection: the system of record, with its embedded outbox, kept lean.

A ticket document carries what is read with it: its fields, its latest timeline entries (older
ones move to `ticket_timelines` pages; each entry stored packed as one value, shared/packing.py:
the docstore's cost per write grows with the number of fields, and nothing queries inside one), the events it still owes (`outbox`) and its last applied
event ids. Every write also brings intake's read models up to date (adapters/views.py), and a
crash between the write and its views is finished later:
- a change made for a consumed event is finished by the event's redelivery (the broker redelivers
  what was not acknowledged): the ticket has applied it, so the views are written again from it;
- every write sets `views_pending` to its revision, cleared once the views are written (by the
  relay, in the command that pops the events the write owes, or here, a moment later unless a later
  write took it over: adapters/deferred_clears.py); a crash in between leaves the mark, and
  `recover()` finishes the job at the next start.

Any number of intake replicas write the same tickets. Each write is a compare-and-set on the
revision, and the mark orders the views: a write clears only its own mark, so finding it gone
means another write came in between, whose view updates and ours may have crossed on the way;
the views are then written again from the ticket as it is (`reproject`, until nothing moves).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import bson
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.adapters.combined_changes import (
    Change,
    Entries,
    Fields,
    combined_update,
    numbered,
    remember_event,
)
from services.intake.adapters.deferred_clears import DeferredClears
from services.intake.adapters.views import MongoViews
from services.intake.domain.views import view_updates
from shared.documents import guarded_change, update_one_returning
from shared.packing import pack_all, unpack_all
from shared.persistence import IndexSpec

log = logging.getLogger(__name__)

COLLECTION = "tickets"
COUNTERS = "counters"
NUMBERS = "ticket_numbers"
"""number -> ticket id, for every number a ticket has had: lookups by `_id` stay fast on the docstore."""
TIMELINES = "ticket_timelines"
"""Older timeline entries, `<ticket id>:<page>` with TIMELINE_PAGE entries keyed by their sequence number."""
VIEWS_PENDING = "views_pending"
"""Set to the revision by every write and cleared once its views are written (see recover())."""
HIDDEN = {"outbox": 0, "applied_events": 0, "rev": 0, VIEWS_PENDING: 0, "shelves": 0}
"""Bookkeeping fields never shown outside the repository."""

INDEXES = [
    # lookups by number go through ticket_numbers (by _id); the unique index guards against a repeat
    IndexSpec(COLLECTION, [("number", 1)], unique=True),
    # recover(): the documents a crash left owing view updates (sparse: almost none match); those owing
    # events use the outbox.event_id index every outbox collection gets (shared/runtime.py)
    IndexSpec(COLLECTION, [("views_pending", 1)], options={"sparse": True}),
    # exports and ad-hoc queries on MongoDB (the API reads the views instead): by reporter, by date,
    # and the agents' usual filter, status and severity, newest first
    IndexSpec(COLLECTION, [("reporter.id", 1), ("created_at", -1)]),
    IndexSpec(COLLECTION, [("created_at", -1)]),
    IndexSpec(COLLECTION, [("status", 1), ("severity", 1), ("created_at", -1)]),
]

TIMELINE_KEPT = 50
"""Timeline entries kept in the ticket; when it holds twice as many, the older ones move to pages."""
TIMELINE_PAGE = 100
MAX_REPROJECTIONS = 20


class Tickets(Protocol):
    """The ticket store the service layer writes through; every change is one atomic, guarded write."""

    async def next_sequence(self, name: str = "ticket") -> int: ...

    async def reserve_number(self, number: str, ticket_id: str) -> None: ...

    async def insert(self, document: dict[str, Any]) -> None: ...

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def by_number(self, number: str) -> dict[str, Any] | None: ...

    async def applied(self, ticket_id: str, event_id: str) -> bool: ...

    async def change(self, ticket_id: str, condition: dict[str, Any], fields: Fields,
                     entries: Entries, events: list[dict[str, Any]], *,
                     event_id: str | None = None) -> bool: ...

    async def change_many(self, ticket_id: str, changes: list[Change]) -> None: ...

    async def reproject(self, ticket_id: str) -> None: ...


def unpacked(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a stored ticket with its timeline entries unpacked (changed in place; None stays None)."""
    if document is not None and document.get("timeline"):
        document["timeline"] = unpack_all(document["timeline"])
    return document


def stored(document: dict[str, Any]) -> dict[str, Any]:
    """Return a ticket as it is stored: its timeline entries packed."""
    return {**document, "timeline": pack_all(document.get("timeline") or [])}


class MongoTickets:
    """Ticket persistence; every update is a guarded single-document write followed by its view updates."""

    def __init__(self, db: AsyncDatabase,
                 on_outbox: Callable[..., None] | None = None, views: MongoViews | None = None) -> None:
        self.collection = db[COLLECTION]
        self._numbers = db[NUMBERS]
        self._timelines = db[TIMELINES]
        self._on_outbox = on_outbox or (lambda collection, ticket_id, document=None: None)
        self.views = views or MongoViews(db)
        self._counters = db[COUNTERS]
        self.deferred_clears = DeferredClears(self._clear_mark)

    async def next_sequence(self, name: str = "ticket") -> int:
        """Return the next value of a monotonically increasing counter (one atomic `$inc`, unique across replicas)."""
        counter = await self._counters.find_one_and_update(
            {"_id": name}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(counter["seq"])

    async def reserve_sequence(self, count: int, name: str = "ticket") -> int:
        """Reserve count consecutive values of a counter at once; return the first (for seeding)."""
        counter = await self._counters.find_one_and_update(
            {"_id": name}, {"$inc": {"seq": count}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(counter["seq"]) - count + 1

    async def insert_copies(self, documents: list[dict[str, Any]]) -> None:
        """Insert many tickets and their numbers in bulk, without views (the seeder writes those merged)."""
        if documents:
            await self._numbers.insert_many([{"_id": d["number"], "ticket_id": d["_id"]} for d in documents])
            await self.collection.insert_many([stored(document) for document in documents])

    async def reserve_number(self, number: str, ticket_id: str) -> None:
        """Record that number belongs to ticket_id; raises DuplicateKeyError if another ticket has it."""
        try:
            await self._numbers.insert_one({"_id": number, "ticket_id": ticket_id})
        except DuplicateKeyError:
            existing = await self._numbers.find_one({"_id": number})
            if existing is None or existing["ticket_id"] != ticket_id:
                raise

    async def insert(self, document: dict[str, Any]) -> None:
        """Reserve the ticket's number, insert it and its views; raises DuplicateKeyError if the number is taken."""
        await self.reserve_number(document["number"], document["_id"])
        document["shelves"] = await self.views.shelves_for(document)
        entries, next_seq = numbered(document, document.get("timeline", []))
        document.update(timeline=entries, timeline_seq=next_seq, views_pending=0)
        await self.collection.insert_one(stored(document))
        await self._settle(None, document)

    async def by_number(self, number: str) -> dict[str, Any] | None:
        """Return the ticket that has or had this number, without internal bookkeeping fields."""
        reservation = await self._numbers.find_one({"_id": number})
        if reservation is not None:
            return await self.get(reservation["ticket_id"])
        return None

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return the ticket with this id, without internal bookkeeping fields.

        Read whole and trimmed here: the docstore's gate keeps only whole documents it has read, so the
        next read of the ticket (a page polling it) is answered from there.
        """
        document = await self.collection.find_one({"_id": ticket_id})
        for field in HIDDEN if document is not None else ():
            document.pop(field, None)
        return unpacked(document)

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
        entries: Entries,
        events: list[dict[str, Any]],
        *,
        event_id: str | None = None,
    ) -> bool:
        """Apply fields, timeline entries and owed events atomically if condition still holds; True once written.

        With an event_id the change is applied once per event: a ticket that already applied it
        does not match, and its views are written again (a redelivery finishes what a crash cut
        short). Raises LookupError if the ticket does not exist.
        """

        def update(current: dict[str, Any]) -> dict[str, Any]:
            unpacked(current)  # in place: it is also the `before` returned
            numbered_entries, next_seq = numbered(current, entries(current) if callable(entries) else entries)
            sets = {**(fields(current) if callable(fields) else fields), "timeline_seq": next_seq}
            if event_id is not None:
                sets["applied_events"] = remember_event(current, event_id)
            sets[VIEWS_PENDING] = int(current.get("rev", 0)) + 1
            pushes = {name: {"$each": items} for name, items in (("timeline", pack_all(numbered_entries)),
                                                                 ("outbox", events)) if items}
            return {"$set": sets, **({"$push": pushes} if pushes else {})}

        guard = dict(condition)
        if event_id is not None:
            guard["applied_events"] = {"$ne": event_id}
        began = self.deferred_clears.now()
        changed = await guarded_change(self.collection, ticket_id, guard, update)
        if changed is None:
            if event_id is not None and await self.applied(ticket_id, event_id):
                await self.reproject(ticket_id)
            return False
        await self._written(ticket_id, began, changed)
        return True

    async def change_many(self, ticket_id: str, changes: list[Change]) -> None:
        """Apply several events' changes, in order, in one guarded write, as change() would one by one; then their
        views once.

        Raises NotCombinable, having written nothing, if an event was already applied (a redelivery:
        change() finishes its views) or the changes cannot be one update; LookupError if there is no
        ticket.
        """
        codec = self.collection.codec_options

        def update(current: dict[str, Any]) -> dict[str, Any]:
            unpacked(current)  # in place: it is also the `before` returned
            combined = combined_update(current, changes, lambda value: bson.decode(
                bson.encode({"v": value}), codec_options=codec)["v"])
            combined["$set"][VIEWS_PENDING] = int(current.get("rev", 0)) + 1
            return combined

        began = self.deferred_clears.now()
        changed = await guarded_change(self.collection, ticket_id, {}, update)
        assert changed is not None, "no condition, so written or raised"
        await self._written(ticket_id, began, changed)

    async def _written(self, ticket_id: str, began: int, changed: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """Finish a write begun at `began`: take over earlier writes' marks, write the views, archive old entries."""
        self.deferred_clears.take_over(ticket_id, began)  # this write replaced their marks
        before, after = changed[0], unpacked(changed[1])
        await self._settle(before, after)
        if len(after.get("timeline", [])) >= 2 * TIMELINE_KEPT:
            await self._archive_timeline(after)

    async def reproject(self, ticket_id: str) -> None:
        """Write every view entry of the ticket again from the stored ticket, until no write came in between.

        Idempotent. After writing the views of the ticket at revision r, a compare-and-set on r (which
        also clears a mark) tells whether another write landed meanwhile; if so, its views may have
        been overtaken by ours, so the pass runs again from the newer ticket.
        """
        for _ in range(MAX_REPROJECTIONS):
            current = unpacked(await self.collection.find_one({"_id": ticket_id}))
            if current is None:
                return
            await self.views.apply(view_updates(None, current, repair=True))
            if await update_one_returning(self.collection, {"_id": ticket_id, "rev": current.get("rev")},
                                          {"$unset": {VIEWS_PENDING: ""}}) is not None:
                return
        log.warning("ticket kept changing while its views were rewritten; the next write settles them",
                    extra={"ticket_id": ticket_id})

    async def _settle(self, before: dict[str, Any] | None, after: dict[str, Any], *, repair: bool = False) -> None:
        """Bring the views up to the written ticket, then clear its mark: with the events it owes, the relay does
        that when it has published them (the same command); without, it is done here."""
        await self.views.apply(view_updates(before, after, repair=repair))
        if after.get("outbox"):
            self._on_outbox(COLLECTION, after["_id"], after)
            return
        if VIEWS_PENDING not in after:
            return
        if self.deferred_clears.active:
            self.deferred_clears.defer(after["_id"], after[VIEWS_PENDING])  # adapters/deferred_clears.py
        else:
            await self._clear_mark(after["_id"], after[VIEWS_PENDING])

    async def _clear_mark(self, ticket_id: str, mark: int) -> None:
        """Clear the ticket's mark if it is still this one; else rewrite its views (another write came in between,
        whose views ours may have overtaken)."""
        target = {"_id": ticket_id, VIEWS_PENDING: mark}  # only our own mark
        if await update_one_returning(self.collection, target, {"$unset": {VIEWS_PENDING: ""}}) is None:
            await self.reproject(ticket_id)

    async def _archive_timeline(self, ticket: dict[str, Any]) -> None:
        """Move all but the latest TIMELINE_KEPT entries to their pages (written first, so nothing is lost)."""
        timeline = ticket["timeline"]
        older, kept = timeline[:-TIMELINE_KEPT], timeline[-TIMELINE_KEPT:]
        pages: dict[int, dict[str, Any]] = {}
        for entry in older:
            pages.setdefault(entry["seq"] // TIMELINE_PAGE, {})[f"entries.{entry['seq']}"] = entry
        for page, values in pages.items():
            await self._timelines.find_one_and_update({"_id": f"{ticket['_id']}:{page}"}, {"$set": values},
                                                      upsert=True)
        cutoff = kept[0]["seq"]
        await guarded_change(self.collection, ticket["_id"], {},
                             lambda current: {"$set": {"timeline": pack_all(
                                 e for e in unpack_all(current["timeline"]) if e.get("seq", cutoff) >= cutoff)},
                                 "$inc": {"timeline_archived": len(older)}})

    async def older_timeline(self, ticket: dict[str, Any], before_seq: int, limit: int) -> list[dict[str, Any]]:
        """Return up to limit archived timeline entries older than before_seq, newest first."""
        found: list[dict[str, Any]] = []
        if not ticket.get("timeline_archived"):
            return found
        newest_archived = int(ticket.get("timeline_seq", 0)) - 1
        page = (min(before_seq, newest_archived + 1) - 1) // TIMELINE_PAGE
        while page >= 0 and len(found) < limit:
            document = await self._timelines.find_one({"_id": f"{ticket['_id']}:{page}"})
            entries = sorted((document or {}).get("entries", {}).values(), key=lambda e: -e["seq"])
            found += [entry for entry in entries if entry["seq"] < before_seq][: limit - len(found)]
            page -= 1
        return found

    async def recover(self) -> int:
        """Finish what a crash interrupted: views of marked tickets and the relay of owed events; return how many.

        A scan, run once at start (never at rest): on MongoDB the sparse indexes answer it.
        """
        count = 0
        async for document in self._pending():
            await self._settle(None, document, repair=True)
            count += 1
        return count

    async def _pending(self) -> AsyncIterator[dict[str, Any]]:
        """Yield the tickets marked as owing view updates or events."""
        query = {"$or": [{"views_pending": {"$exists": True}}, {"outbox.event_id": {"$exists": True}}]}
        async for document in self.collection.find(query):
            yield unpacked(document)

    async def all(self) -> AsyncIterator[dict[str, Any]]:
        """Yield every ticket (for rebuilding the views)."""
        async for document in self.collection.find({}):
            yield unpacked(document)
