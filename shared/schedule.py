"""Due times kept apart from the documents they belong to, so finding what is due never scans them.

A Schedule is a timing wheel stored in the `schedules` collection. Time is cut into buckets of
`bucket_seconds`; the entries of one bucket ("<when in ms>|<key>" strings) live in page documents
with ids `<name>:<bucket>:<page>`, at most `page_size` entries each. A floor document
`<name>:floor` remembers the oldest bucket that may still hold entries. Finding what is due reads
the buckets from the floor up to now by exact `_id` (the only lookup the docstore answers without
a scan), so its cost depends on how much is due and how long ago the last pass ran, not on how
many entries are pending.

The contract with writers: add an entry for a due time *before* storing that time in the document
(write-ahead). A crash in between leaves only a spurious entry, and whoever handles an entry
re-checks the document, so spurious and stale entries are harmless. An entry already due when it
is added may be polled, found stale (the document not written yet) and removed before the write:
a writer storing a due time that is already past adds the entry once more after the write
(escalation's clocks do; services/escalation/adapters/clocks.py). Entries are removed only after
the caller has handled them (`done`), so a crash while handling means the entry is handled again.
Every write is one atomic command on one document (`$push`, `$pullAll`, `$min`, `$max`), so any
number of tasks and replicas may share a wheel.

Adds never go into the past: an entry due before `now` goes into the current bucket. The poller
deletes a bucket only once it lies `grace_seconds` in the past and holds no entry, so an add racing
the deletion would have to stall longer than the grace, in this process or another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import guarded_update
from shared.matching import matches

COLLECTION = "schedules"
PAGE_SIZE = 100
"""Entries per page document: the docstore rewrites a page's whole array on every `$push` and `$pullAll`, and
a push and pull on a page of 450 entries cost 9.1 ms of its CPU against 3.9 ms on one of 90 (measured on
this build); more pages only add lookups by `_id` when a bucket comes due."""
GIVE_UP_ON_MISSING = timedelta(minutes=5)
"""How long an entry whose document does not exist yet is kept: writers schedule before they insert."""


class NotStoredYet(LookupError):
    """An entry came due for a document that does not exist (yet): its writer may still be inserting it."""


@dataclass(frozen=True)
class DueEntry:
    """One due entry: the key it schedules, when it fell due, and where it is stored."""

    key: str
    at: datetime
    page_id: str
    bucket: int
    raw: str


def _millis(at: datetime) -> int:
    """Return milliseconds since the epoch of an aware datetime."""
    return int(at.timestamp() * 1000)


def encode(millis: int, key: str) -> str:
    """Return the stored form of an entry; it sorts by time."""
    return f"{millis:015d}|{key}"


def due_times(document: dict[str, Any], fields: tuple[str, ...]) -> list[tuple[str, datetime]]:
    """Return (id, time) entries for those of the document's time fields that hold a time after the epoch."""
    epoch = datetime.fromtimestamp(0, UTC)
    return [(document["_id"], document[field]) for field in fields
            if isinstance(document.get(field), datetime) and document[field] > epoch]


def decode(raw: str) -> tuple[int, str]:
    """Return (milliseconds, key) of a stored entry."""
    millis, key = raw.split("|", 1)
    return int(millis), key


class Schedule:
    """A named timing wheel: add (key, due time) entries, read the due ones, remove them once handled."""

    def __init__(self, db: AsyncDatabase, name: str, *, bucket_seconds: int = 10, page_size: int = PAGE_SIZE,
                 grace_seconds: int = 60) -> None:
        if "|" in name or ":" in name:
            raise ValueError(f"schedule name {name!r} may not contain '|' or ':'")
        self.collection = db[COLLECTION]
        self.name = name
        self._bucket_ms = bucket_seconds * 1000
        self._page_size = page_size
        self._grace_buckets = -(-grace_seconds * 1000 // self._bucket_ms)
        self._floor_id = f"{name}:floor"
        self._known_floor: int | None = None
        self._empty: set[int] = set()
        """Past buckets this process found empty; local adds remove a bucket from it."""
        self._cleared: set[int] = set()
        """Settled buckets this process deleted; they are skipped without a lookup."""
        self._open_page: dict[int, int] = {}
        """The first page of a bucket this process last found with room (a hint; pages only fill up)."""
        self._offered: dict[str, dict[str, DueEntry]] = {}
        """Entries handed out by due_keys and not yet handled, by key."""

    def _bucket(self, millis: int) -> int:
        return millis // self._bucket_ms

    def _page_id(self, bucket: int, page: int) -> str:
        return f"{self.name}:{bucket}:{page}"

    async def add(self, key: str, at: datetime, now: datetime, *, offered: bool = False) -> list[DueEntry]:
        """Record that key falls due at `at` (or now, if that is earlier); return where it was stored.

        offered=True is for a writer that handles the key itself right away: the entry is remembered
        as if due_keys had offered it, so handled(key) removes it (and a crash leaves it to come due).
        """
        placed = await self.add_many([(key, at)], now)
        if offered:
            for entry in placed:
                self._offered.setdefault(key, {})[entry.raw] = entry
        return placed

    async def add_many(self, items: Iterable[tuple[str, datetime]], now: datetime) -> list[DueEntry]:
        """Record many (key, due time) entries, one write per bucket once the floor is known; return them.

        The returned entries can be given to done() by a writer that handles them itself.
        """
        floor_millis = _millis(now)
        by_bucket: dict[int, list[tuple[int, str]]] = {}
        for key, at in items:
            millis = max(_millis(at), floor_millis)
            by_bucket.setdefault(self._bucket(millis), []).append((millis, encode(millis, key)))
        if not by_bucket:
            return []
        await self._lower_floor(min(by_bucket))
        placed: list[DueEntry] = []
        for bucket, stamped in by_bucket.items():
            self._empty.discard(bucket)
            self._cleared.discard(bucket)
            for page_id, raws in await self._append(bucket, [raw for _, raw in stamped]):
                placed += [DueEntry(decode(raw)[1], datetime.fromtimestamp(decode(raw)[0] / 1000, UTC), page_id,
                                    bucket, raw) for raw in raws]
        return placed

    async def _lower_floor(self, bucket: int) -> None:
        """Make sure the floor is at or below bucket (one write per process unless the clock went back)."""
        if self._known_floor is not None and self._known_floor <= bucket:
            return
        await self.collection.find_one_and_update({"_id": self._floor_id}, {"$min": {"bucket": bucket}}, upsert=True)
        self._known_floor = bucket if self._known_floor is None else min(self._known_floor, bucket)

    async def _append(self, bucket: int, raws: list[str]) -> list[tuple[str, list[str]]]:
        """Append entries to the bucket's open page in one upsert each; return (page id, entries) as stored.

        `page_size` is a soft limit: the page this process last wrote to is used until a write finds
        it at or past the limit, and the next write goes to the following page. Another process
        writing to the same bucket may overshoot by one write; readers read every page either way.
        """
        stored: list[tuple[str, list[str]]] = []
        page = self._open_page.get(bucket, 0)
        while raws:
            chunk, raws = raws[: self._page_size], raws[self._page_size:]
            page_id = self._page_id(bucket, page)
            after = await self.collection.find_one_and_update(
                {"_id": page_id}, {"$push": {"entries": {"$each": chunk}}, "$inc": {"n": len(chunk)}},
                upsert=True, return_document=ReturnDocument.AFTER)
            stored.append((page_id, chunk))
            if int(after["n"]) >= self._page_size:
                page += 1
        if page:  # only spilled buckets are remembered
            self._open_page[bucket] = page
        return stored

    async def _pages(self, bucket: int) -> list[dict[str, Any]]:
        """Return the page documents of a bucket, in page order."""
        pages = []
        while (document := await self.collection.find_one({"_id": self._page_id(bucket, len(pages))})) is not None:
            pages.append(document)
        return pages

    async def due(self, now: datetime, limit: int) -> list[DueEntry]:
        """Return the due entries of up to limit keys, earliest first; settled empty buckets are deleted on the way.

        The limit counts keys, not entries: a key may have several entries due (a due time and a
        lease's end, or repeats), and a caller that got fewer keys than it asked for has seen all that is due.
        """
        floor_document = await self.collection.find_one({"_id": self._floor_id})
        if floor_document is None:
            return []
        floor = self._known_floor = int(floor_document["bucket"])
        now_millis = _millis(now)
        current = self._bucket(now_millis)
        settled = current - self._grace_buckets
        found: list[DueEntry] = []
        new_floor = floor
        for bucket in range(floor, current + 1):
            if len({entry.key for entry in found}) >= limit:
                break
            if not (bucket < current - 1 and bucket in self._empty):
                pages = await self._pages(bucket)
                if any(page["entries"] for page in pages):
                    found += [entry for page in pages for entry in self._due_in(page, bucket, now_millis)]
                    continue
                if bucket >= current - 1:
                    continue
                self._empty.add(bucket)
            if bucket < settled and bucket not in self._cleared:
                if not await self._clear(bucket):
                    continue
                self._cleared.add(bucket)
            if new_floor == bucket and bucket in self._cleared:
                new_floor = bucket + 1
        if new_floor > floor:
            await self._raise_floor(new_floor)
        found.sort(key=lambda entry: entry.raw)
        keys: set[str] = set()
        chosen = []
        for entry in found:
            if entry.key not in keys and len(keys) < limit:
                keys.add(entry.key)
            if entry.key in keys:
                chosen.append(entry)
        return chosen

    @staticmethod
    def _due_in(page: dict[str, Any], bucket: int, now_millis: int) -> list[DueEntry]:
        """Return the entries of one page that are due."""
        entries = []
        for raw in page["entries"]:
            millis, key = decode(raw)
            if millis <= now_millis:
                entries.append(DueEntry(key, datetime.fromtimestamp(millis / 1000, UTC), page["_id"], bucket, raw))
        return entries

    async def due_keys(self, now: datetime, limit: int) -> list[str]:
        """Return up to limit keys with due entries, earliest first (fewer: nothing else is due); call handled(key) for each."""
        keys: dict[str, None] = {}
        for entry in await self.due(now, limit):
            self._offered.setdefault(entry.key, {})[entry.raw] = entry
            keys[entry.key] = None
        return list(keys)

    async def handled(self, key: str) -> None:
        """Remove the entries due_keys offered for key (a key that failed is left to come up again)."""
        await self.done(self._offered.pop(key, {}).values())

    async def postpone(self, key: str, now: datetime) -> None:
        """Leave key's offered entries in the wheel to come up again, except those due GIVE_UP_ON_MISSING ago."""
        stale = [entry for entry in self._offered.pop(key, {}).values() if now - entry.at > GIVE_UP_ON_MISSING]
        await self.done(stale)

    async def done(self, entries: Iterable[DueEntry]) -> None:
        """Remove handled entries (entries already removed are ignored)."""
        by_page: dict[tuple[int, str], list[str]] = {}
        for entry in entries:
            by_page.setdefault((entry.bucket, entry.page_id), []).append(entry.raw)
        for (bucket, page_id), raws in by_page.items():
            await self.collection.find_one_and_update({"_id": page_id}, {"$pullAll": {"entries": raws}})

    async def _clear(self, bucket: int) -> bool:
        """Delete a settled bucket's pages if none holds an entry; return True if the bucket is gone."""
        pages = await self._pages(bucket)
        if any(page["entries"] for page in pages):
            self._empty.discard(bucket)
            return False
        for page in reversed(pages):  # the last page first, so readers never see a gap
            # only as read: an add from another replica since then raised the page's count
            gone = await self.collection.delete_one({"_id": page["_id"], "n": page.get("n")})
            if not gone.deleted_count:
                self._empty.discard(bucket)
                return False
        self._open_page.pop(bucket, None)
        return True

    async def _raise_floor(self, bucket: int) -> None:
        """Move the floor up to bucket (never down: adds lower it themselves)."""
        await self.collection.find_one_and_update({"_id": self._floor_id}, {"$max": {"bucket": bucket}})
        self._known_floor = bucket
        self._empty = {b for b in self._empty if b >= bucket}
        self._open_page = {b: page for b, page in self._open_page.items() if b >= bucket}
        self._cleared = {b for b in self._cleared if b >= bucket}

    async def backfill_once(self, entries: Iterable[tuple[str, datetime]] | Any, now: datetime) -> int | None:
        """Add entries for documents written before this schedule existed, once per schedule; return the count.

        `entries` is an async iterable of (key, due time). Returns None if the backfill had already run.
        """
        marker = f"{self.name}:backfilled"
        if await self.collection.find_one({"_id": marker}) is not None:
            return None
        count = 0
        batch: list[tuple[str, datetime]] = []
        async for item in entries:
            batch.append(item)
            if len(batch) >= 1000:
                count += len(await self.add_many(batch, now))
                batch = []
        count += len(await self.add_many(batch, now))
        try:
            await self.collection.insert_one({"_id": marker, "at": now, "entries": count})
        except DuplicateKeyError:
            pass
        return count


class ScheduledDocuments:
    """A store whose documents' due times live in `self.schedule`: what its poller reads and settles."""

    schedule: Schedule

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Return ids of documents that may be due, earliest first; call handled(id) once each is dealt with."""
        return await self.schedule.due_keys(now, limit)

    async def handled(self, document_id: str) -> None:
        """Remove the schedule entries that brought this document up in the last due()."""
        await self.schedule.handled(document_id)

    async def postpone(self, document_id: str, now: datetime) -> None:
        """Keep this document's entries for a later pass (it is scheduled but not stored yet)."""
        await self.schedule.postpone(document_id, now)


async def claim_lease(schedule: Schedule, collection: AsyncCollection, key: str, condition: dict[str, Any],
                      now: datetime, lease_until: datetime, owner: str, *,
                      count_in: str | None = None) -> bool:
    """Lease a document to owner if condition holds; return True if leased.

    The lease's end is scheduled before the lease is written, so a document whose holder dies is
    looked at again when the lease runs out. Raises NotStoredYet if there is no such document: its
    entry was written ahead of it, and dropping the entry now would lose the document once stored.
    `count_in` names a field incremented with the lease, in the same write (leases taken).
    """
    current = await collection.find_one({"_id": key})
    if current is None:
        raise NotStoredYet(f"{collection.name} {key} is scheduled but not stored")
    if not matches(current, condition):
        return False
    await schedule.add(key, lease_until, now)
    try:
        update: dict[str, Any] = {"$set": {"lease_until": lease_until, "lease_owner": owner}}
        if count_in is not None:
            update["$inc"] = {count_in: 1}
        return await guarded_update(collection, key, condition, update)
    except LookupError:
        return False
