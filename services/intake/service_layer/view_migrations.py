"""Bringing read models written by an older build up to the current shapes, once, while intake serves.

Version 2 (shelves, domain/shelves.py) changed two things for tickets already stored:
- the open work is hashed into 64 buckets instead of 32: each ticket of `open:0..31` that now belongs
  to another bucket has its views written again from the ticket (`reproject`, guarded against live
  writes), which puts it in its bucket, and only then leaves the old one (so it is never missing);
- history and My Tickets are found through shelf directories: every stored ticket is recorded in
  the directories of its day's and its reporter's shelves (the documents it is on stay the same).
Version 3 split each month's posting list of a title word into one per day, with a list of the
month's days per word (domain/views.py): every stored ticket is added to its day's postings, and
the month-long lists are deleted once all are written (until then search reads the new ones as
they fill, so a search during the migration may miss older matches).
Every step is idempotent and live writes never contradict them, so running it beside the live
service, twice, or after a crash in the middle is safe; the version is recorded only once every
step is done. Until then a moved ticket may show twice in the queue.
"""

from __future__ import annotations

import logging

from services.intake.adapters.tickets import MongoTickets
from services.intake.domain.shelves import directory_updates
from services.intake.domain.views import day_of, open_id, posting_updates, words_of
from shared.update_merging import merge_into

log = logging.getLogger(__name__)

VIEWS_VERSION = 3
MIGRATIONS = "migrations"
"""`_id` = the collection migrated, `version` = the version its documents have."""
OLD_OPEN_BUCKETS = 32
BATCH = 1000


async def views_version(tickets: MongoTickets) -> int:
    """Return the version of the stored read models (a database without tickets is current)."""
    record = await tickets.collection.database[MIGRATIONS].find_one({"_id": "ticket_views"})
    if record is not None:
        return int(record.get("version", 1))
    return VIEWS_VERSION if await tickets.collection.find_one({}, {"_id": 1}) is None else 1


async def record_version(tickets: MongoTickets) -> None:
    """Record that the read models have the current version."""
    await tickets.collection.database[MIGRATIONS].update_one(
        {"_id": "ticket_views"}, {"$set": {"version": VIEWS_VERSION}}, upsert=True)


async def migrate_views(tickets: MongoTickets) -> int:
    """Bring the read models to VIEWS_VERSION if they are older; return how many tickets were recorded."""
    version = await views_version(tickets)
    if version >= VIEWS_VERSION:
        await record_version(tickets)
        return 0
    log.warning("read models from an older build: migrating them while the service answers",
                extra={"x_from_version": version})
    if version < 2:
        await rehash_open_buckets(tickets)
    recorded, combined, month_postings = 0, {}, set()
    async for ticket in tickets.all():
        if version < 2:
            merge_into(combined, directory_updates(ticket))
        merge_into(combined, posting_updates(ticket))
        month_postings.update(month_posting_ids(ticket))
        recorded += 1
        if recorded % BATCH == 0:
            await tickets.views.apply(combined)
            combined = {}
    await tickets.views.apply(combined)
    for doc_id in sorted(month_postings):  # by `_id` each: a filter on a list of ids would scan the collection
        await tickets.views.collection.delete_one({"_id": doc_id})
    await record_version(tickets)
    log.warning("read models migrated", extra={"x_tickets": recorded})
    return recorded


def month_posting_ids(ticket: dict) -> list[str]:
    """Return the ids of the month-long posting lists (version 2) that held the ticket."""
    month = day_of(ticket["created_at"])[:7]
    return [f"word:{month}:{word}" for word in words_of(ticket["title"])]


async def rehash_open_buckets(tickets: MongoTickets) -> None:
    """Move each ticket of the old open buckets that hashes elsewhere now: projected again, then removed."""
    for bucket in range(OLD_OPEN_BUCKETS):
        doc_id = f"open:{bucket}"
        document = await tickets.views.collection.find_one({"_id": doc_id}) or {}
        strays = [ticket_id for ticket_id in (document.get("entries") or {}) if open_id(ticket_id) != doc_id]
        for ticket_id in strays:
            await tickets.reproject(ticket_id)
        if strays:
            await tickets.views.apply({doc_id: {"$unset": {f"entries.{ticket_id}": "" for ticket_id in strays}}})
