"""The `ticket_views` collection: intake's read models, each document read and written by `_id` only.

See services/intake/domain/views.py for the documents and why. Writes are idempotent `$set` /
`$unset` of whole entries (upserted), sent for one ticket change as one `update` command, merged
with other changes' updates that wait at the same time (group commit); reads
fetch a few documents by `_id` (concurrently) and filter in memory.

Each summary entry is stored packed, one BSON document in a binary value (shared/packing.py): a
shelf of 64 nested summaries costs several times more per update and per read on the docstore
(bench/view_entries.py). The view documents are only ever read by `_id`, so nothing queries inside
an entry. Entries written nested by an older build are read as they are.

The open-work and feature buckets are read by every queue page and gauge recount; with
`fresh_seconds` > 0 they are kept in memory and read again in the background once older than that.
This process's own writes drop them at once (read-your-writes); a write by another process (a
second intake replica, a rebuild) is seen within `fresh_seconds` plus one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.shelves import (
    Shelf,
    Shelving,
    day_text,
    days_directory_id,
    reporter_directory_id,
    shelves_in,
)
from services.intake.domain.views import FEATURE_BUCKETS, OPEN_BUCKETS, listed_day
from shared.group_commit import GroupCommit
from shared.packing import pack, unpack
from shared.update_merging import upserts

COLLECTION = "ticket_views"
TICKETS = "tickets"
CACHED_PREFIXES = ("open:", "features:")
LISTED_DAYS_KEPT = 100_000
"""How many (title word's month list, day) pairs a process remembers having written (a few MB at most)."""
SUMMARY_FIELDS = {name: 1 for name in ("number", "title", "kind", "type", "status", "severity", "reported_severity",
                                       "tier", "team", "assignee", "reporter", "vendor", "created_at", "votes", "rev",
                                       "sla_response", "sla_resolution")}
"""What a search result reads of a ticket: its summary and outcomes (services/intake/domain/views.py)."""
ENTRIES = "entries."


def packed(update: dict[str, Any]) -> dict[str, Any]:
    """Return a view update with every summary entry it sets packed into one binary BSON value."""
    sets = update.get("$set")
    if not sets:
        return update
    return {**update, "$set": {path: pack(value) if path.startswith(ENTRIES) else value for path, value in sets.items()}}


def packed_document(document: dict[str, Any]) -> dict[str, Any]:
    """Return a whole view document (a rebuild's) with its summary entries packed."""
    entries = document.get("entries")
    if not entries:
        return document
    return {**document, "entries": {key: pack(value) for key, value in entries.items()}}


def unpacked(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a view document as written: its packed entries decoded (aware datetimes), others as they are."""
    if document is None or not document.get("entries"):
        return document
    document["entries"] = {key: unpack(value) for key, value in document["entries"].items()}
    return document


class MongoViews:
    """Reads and writes of the view documents."""

    def __init__(self, db: AsyncDatabase, *, fresh_seconds: float = 0.0) -> None:
        self.collection = db[COLLECTION]
        self.tickets = db[TICKETS]
        self.fresh_seconds = fresh_seconds
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._generation: dict[str, int] = {}
        self._refreshing: dict[str, asyncio.Task] = {}
        self.shelving = Shelving()
        self._commits = GroupCommit(self._write)
        self._listed_days: set[tuple[str, str]] = set()

    async def shelves_for(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Return the `shelves` field of a new ticket, first reading the directories of groups not seen yet."""
        groups = self.shelving.groups(ticket)
        unknown = {which: group for which, group in groups.items() if not self.shelving.knows(group)}
        if unknown:
            directory_ids = {"history": days_directory_id(day_text(ticket)[:7]),
                             "reporter": reporter_directory_id(ticket["reporter"]["id"])}
            found = await self.documents(directory_ids[which] for which in unknown)
            for which, group in unknown.items():
                shelves = shelves_in(found.get(directory_ids[which]))
                if which == "history":
                    shelves = [shelf for shelf in shelves if shelf.key.startswith(day_text(ticket))]
                self.shelving.learn(group, shelves[0] if shelves else None)
        return self.shelving.place(ticket)

    async def shelves(self, directory_ids: Iterable[str]) -> list[Shelf]:
        """Return the shelves listed in the given directories, newest last ticket first."""
        documents = await self.documents(directory_ids)
        return sorted((shelf for document in documents.values() for shelf in shelves_in(document)),
                      key=lambda shelf: shelf.last, reverse=True)

    async def apply(self, updates: dict[str, dict[str, Any]]) -> None:
        """Apply each document's update (upserting, except pure removals) by `_id`; return once written.

        Updates of other callers waiting at the same time go out in the same command, one merged update
        per document (shared/group_commit.py).
        """
        updates = {doc_id: update for doc_id, update in updates.items()
                   if listed_day(doc_id, update) not in self._listed_days}
        if not updates:
            return
        self._forget(updates)
        try:
            await self._commits.submit(updates)
        finally:
            self._forget(updates)  # a read that overlapped the write must not keep what it saw before it
        self._remember_listed_days(updates)

    def _remember_listed_days(self, written: dict[str, dict[str, Any]]) -> None:
        """Remember the days written into months' day lists of title words: adding one again would change nothing.

        Most titles share words, and each such add was a statement rewriting the month's list. Nothing
        removes a day from a list: a rebuild writes every list from the tickets, which hold the ticket
        that put the day there.
        """
        if len(self._listed_days) > LISTED_DAYS_KEPT:
            self._listed_days.clear()
        self._listed_days.update(key for doc_id, update in written.items() if (key := listed_day(doc_id, update)))

    async def _write(self, updates: dict[str, dict[str, Any]]) -> None:
        """Write one batch of updates by `_id` in one command."""
        await self.collection.bulk_write(
            [UpdateOne({"_id": doc_id}, packed(update), upsert=upserts(update)) for doc_id, update in updates.items()],
            ordered=True)

    def _forget(self, doc_ids: Iterable[str]) -> None:
        """Drop the cached copies of these documents and stop reads in flight from caching them."""
        for doc_id in doc_ids:
            self._cache.pop(doc_id, None)
            self._generation[doc_id] = self._generation.get(doc_id, 0) + 1

    async def documents(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the view documents that exist among doc_ids, fetched concurrently by `_id` (or fresh from memory)."""
        ids = list(dict.fromkeys(doc_ids))
        found = await asyncio.gather(*(self._document(doc_id) for doc_id in ids))
        return {doc_id: document for doc_id, document in zip(ids, found, strict=True) if document is not None}

    async def _document(self, doc_id: str) -> dict[str, Any] | None:
        """Return one view document, from memory when it is cacheable and fresh.

        A cached copy older than fresh_seconds is still answered while one background read replaces it
        (so no request waits for the refresh); a copy this process's own write made stale is never answered.
        """
        cacheable = self.fresh_seconds > 0 and doc_id.startswith(CACHED_PREFIXES)
        if cacheable:
            cached = self._cache.get(doc_id)
            if cached is not None:
                if time.monotonic() - cached[0] >= self.fresh_seconds and doc_id not in self._refreshing:
                    self._refreshing[doc_id] = asyncio.create_task(self._read(doc_id, cacheable))
                    self._refreshing[doc_id].add_done_callback(lambda _: self._refreshing.pop(doc_id, None))
                return cached[1]
        return await self._read(doc_id, cacheable)

    async def _read(self, doc_id: str, cacheable: bool) -> dict[str, Any] | None:
        """Return one view document from the database, caching it if no write of this process overtook the read."""
        generation, started = self._generation.get(doc_id, 0), time.monotonic()
        document = unpacked(await self.collection.find_one({"_id": doc_id}))
        if cacheable and self._generation.get(doc_id, 0) == generation:
            self._cache[doc_id] = (started, document)
        return document

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

    async def postings(self, doc_ids: Iterable[str]) -> dict[str, list[str]]:
        """Return {word document id: ticket ids} for the posting lists that exist among doc_ids."""
        return {doc_id: list(document.get("ids") or []) for doc_id, document in (await self.documents(doc_ids)).items()}

    async def tickets_by_id(self, ticket_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Return the stored tickets among ticket_ids (by `_id`, concurrently), in the order asked."""
        ids = list(dict.fromkeys(ticket_ids))
        found = await asyncio.gather(*(self.tickets.find_one({"_id": ticket_id}, SUMMARY_FIELDS) for ticket_id in ids))
        return [ticket for ticket in found if ticket is not None]

    async def replace_all(self, documents: dict[str, dict[str, Any]]) -> None:
        """Replace every view document by the given ones (a rebuild); documents not given are removed."""
        keep = set(documents)
        async for existing in self.collection.find({}, {"_id": 1}):
            if existing["_id"] not in keep:
                await self.collection.delete_one({"_id": existing["_id"]})
        for doc_id, document in documents.items():
            await self.collection.find_one_and_replace({"_id": doc_id}, {"_id": doc_id, **packed_document(document)},
                                                       upsert=True)
        self._forget(list(self._cache))
        self._listed_days.clear()
