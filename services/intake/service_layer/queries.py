"""Intake's read paths: ticket lists, search, the open work, feature requests and the SLA report.

Every read fetches view documents by `_id` (services/intake/domain/views.py) and filters in
memory, so its cost depends on what is asked, not on how many tickets are stored. Pages are
newest first; a cursor means "tickets older than this id" (ticket ids are time-ordered ULIDs),
so a page can also end early at its scan bound and say where to go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ulid import ULID

from services.intake.adapters.views import MongoViews
from services.intake.domain.principals import Principal, Role
from services.intake.domain.shelves import Shelf, days_directory_id, reporter_directory_id, within
from services.intake.domain.views import parse_sla_line, search_entry, word_days_id, word_id, words_of
from shared.contracts import OPEN_STATUSES

MONTHS_PER_PAGE = 3
"""Months of history shelves one history page reads at most before it returns what it found and a cursor to go on."""
SHELVES_PER_READ = 4
"""Shelves read at once (concurrently) while a page is being filled, newest first."""
MONTHS_PER_SEARCH = 24
DAYS_PER_READ = 4
"""Days whose posting lists a search reads at once (concurrently); most pages fill from the newest few."""
"""Months of posting lists one search page reads at most before it returns what it found and a cursor to go on."""


@dataclass(frozen=True)
class TicketFilter:
    """What a list asks for; None means any."""

    status: str | None = None
    severity: str | None = None
    type: str | None = None
    kind: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None
    reporter_id: str | None = None
    vendor_id: str | None = None

    @property
    def words(self) -> list[str]:
        """Return the searched words (empty when there is no text query)."""
        return words_of(self.q) if self.q else []

    def admits(self, entry: dict[str, Any]) -> bool:
        """Return True if a summary passes every filter."""
        for name in ("status", "severity", "type", "kind"):
            wanted = getattr(self, name)
            if wanted is not None and entry.get(name) != wanted:
                return False
        created = entry["created_at"]
        if (self.created_from and created < self.created_from) or (self.created_to and created >= self.created_to):
            return False
        if self.reporter_id is not None and (entry.get("reporter") or {}).get("id") != self.reporter_id:
            return False
        if self.vendor_id is not None and entry.get("vendor") != self.vendor_id:
            return False
        if self.q is not None:
            words = self.words
            return bool(words) and set(words) <= set(words_of(entry["title"]))
        return True


@dataclass(frozen=True)
class Page:
    """One page of summaries, newest first, and where the next page starts (None: no more)."""

    items: list[dict[str, Any]]
    next_before: str | None


def id_at(moment: datetime) -> str:
    """Return the smallest ticket id of a moment: every ticket created before it has a smaller id."""
    return str(ULID.from_timestamp(moment.timestamp()))[:10] + "0" * 16


def time_of(ticket_id: str) -> datetime:
    """Return when a ticket id was made (its creation time)."""
    return ULID.from_str(ticket_id).datetime.astimezone(UTC)


def _page(entries: list[dict[str, Any]], wanted: TicketFilter, before: str | None, limit: int,
          exhausted_at: str | None) -> Page:
    """Return the newest `limit` admitted entries older than `before`; continue at exhausted_at if there may be more."""
    found = sorted((e for e in entries if wanted.admits(e) and (before is None or e["id"] < before)),
                   key=lambda e: e["id"], reverse=True)
    if len(found) > limit:
        return Page(found[:limit], found[limit - 1]["id"])
    return Page(found, exhausted_at)


def _newest_bound(before: str | None, created_to: datetime | None) -> str | None:
    """Return the id every listed ticket is below: the cursor or the end of the asked window (None: no bound)."""
    bounds = [bound for bound in (before, id_at(created_to) if created_to else None) if bound is not None]
    return min(bounds) if bounds else None


async def newest_on_shelves(views: MongoViews, prefix: str, shelves: list[Shelf], wanted: TicketFilter,
                            before: str | None, limit: int) -> list[dict[str, Any]]:
    """Return the admitted entries below `before` of the newest shelves, read until the newest limit + 1 are certain.

    Shelves come newest last ticket first; once more than `limit` entries were found that are all
    newer than anything the unread shelves hold, those shelves cannot change the page.
    """
    found: list[dict[str, Any]] = []
    for start in range(0, len(shelves), SHELVES_PER_READ):
        batch = shelves[start:start + SHELVES_PER_READ]
        found += [entry for entry in await views.entries(prefix + shelf.key for shelf in batch)
                  if wanted.admits(entry) and (before is None or entry["id"] < before)]
        rest = shelves[start + SHELVES_PER_READ:]
        if rest and len(found) > limit:
            ids = sorted((entry["id"] for entry in found), reverse=True)
            if ids[limit] > max(shelf.last for shelf in rest):
                break
    return found


async def reporter_history(views: MongoViews, wanted: TicketFilter, before: str | None, limit: int) -> Page:
    """Return a page of one reporter's tickets (My Tickets): their newest shelves, filtered in memory."""
    assert wanted.reporter_id is not None
    shelves = within(await views.shelves([reporter_directory_id(wanted.reporter_id)]),
                     _newest_bound(before, wanted.created_to),
                     id_at(wanted.created_from) if wanted.created_from else None)
    entries = await newest_on_shelves(views, f"mine:{wanted.reporter_id}:", shelves, wanted, before, limit)
    return _page(entries, wanted, before, limit, None)


async def open_work(views: MongoViews, wanted: TicketFilter, before: str | None, limit: int) -> Page:
    """Return a page of tickets not Closed (the open work), filtered in memory."""
    return _page(await views.open_entries(), wanted, before, limit, None)


async def staff_history(views: MongoViews, wanted: TicketFilter, before: str | None, limit: int, now: datetime,
                        first_day: date) -> Page:
    """Return a page of every reporter's tickets, newest first, from the history shelves (or the open work).

    Month by month, newest first: the month's directory, then its shelves newest first until the
    page is certain; at most MONTHS_PER_PAGE months, then a cursor to go on.
    """
    if wanted.q is not None:
        return await search(views, wanted, before, limit, now, first_day)
    if wanted.status in OPEN_STATUSES:
        return await open_work(views, wanted, before, limit)
    newest = min(now, wanted.created_to or now, time_of(before) if before else now)
    stop = max(first_day, wanted.created_from.date() if wanted.created_from else first_day)
    bound, oldest = _newest_bound(before, wanted.created_to), id_at(wanted.created_from) if wanted.created_from else None
    month, last_month = date(newest.year, newest.month, 1), date(stop.year, stop.month, 1)
    entries: list[dict[str, Any]] = []
    scanned = 0
    while month >= last_month and scanned < MONTHS_PER_PAGE and len(entries) <= limit:
        shelves = within(await views.shelves([days_directory_id(month.strftime("%Y-%m"))]), bound, oldest)
        shelves = [shelf for shelf in shelves if shelf.key[:10] >= stop.isoformat()]
        entries += await newest_on_shelves(views, "day:", shelves, wanted, before, limit - len(entries))
        scanned += 1
        month = (month - timedelta(days=1)).replace(day=1)
    more = None
    if month >= last_month:
        more = id_at(datetime.combine(month + timedelta(days=32), datetime.min.time(), UTC).replace(day=1))
    return _page(entries, wanted, before, limit, more)


async def search(views: MongoViews, wanted: TicketFilter, before: str | None, limit: int, now: datetime,
                 first_day: date) -> Page:
    """Return a page of tickets whose title has every searched word, newest first.

    Per month (newest first): the days on which every searched word has a posting list (one small
    document per word), then those days' posting lists, a few days at a time and newest first,
    intersected in memory; only the matching tickets are read, by `_id`, no more than the page needs.
    """
    words = wanted.words
    if not words:
        return Page([], None)
    newest = min(now, wanted.created_to or now, time_of(before) if before else now)
    stop = max(first_day, wanted.created_from.date() if wanted.created_from else first_day)
    month = date(newest.year, newest.month, 1)
    found: list[dict[str, Any]] = []
    scanned = 0
    while month >= date(stop.year, stop.month, 1) and scanned < MONTHS_PER_SEARCH and len(found) <= limit:
        async for candidates in _matching_ids(views, month.strftime("%Y-%m"), words, newest.strftime("%Y-%m-%d")):
            candidates = [ticket_id for ticket_id in candidates if before is None or ticket_id < before]
            for start in range(0, len(candidates), limit + 1):
                batch = await views.tickets_by_id(candidates[start:start + limit + 1])
                found += [entry for entry in map(search_entry, batch) if wanted.admits(entry)]
                if len(found) > limit:
                    break
            if len(found) > limit:
                break
        scanned += 1
        month = (month - timedelta(days=1)).replace(day=1)
    more = None
    if len(found) <= limit and month >= date(stop.year, stop.month, 1):
        more = id_at(datetime.combine(month + timedelta(days=32), datetime.min.time(), UTC).replace(day=1))
    return _page(found, wanted, before, limit, more)


async def _matching_ids(views: MongoViews, month: str, words: list[str], last_day: str) -> AsyncIterator[list[str]]:
    """Yield, a few days at a time and newest first, the ids of the month's tickets (up to last_day) that have
    every word in their title, newest first."""
    indexes = await views.documents(word_days_id(month, word) for word in words)
    day_sets = [set((indexes.get(word_days_id(month, word)) or {}).get("days") or ()) for word in words]
    days = sorted((f"{month}-{dd}" for dd in set.intersection(*day_sets)), reverse=True)
    days = [day for day in days if day <= last_day]
    for start in range(0, len(days), DAYS_PER_READ):
        chunk = days[start:start + DAYS_PER_READ]
        postings = await views.postings(word_id(day, word) for day in chunk for word in words)
        ids: set[str] = set()
        for day in chunk:
            ids |= set.intersection(*(set(postings.get(word_id(day, word), ())) for word in words))
        yield sorted(ids, reverse=True)


async def tickets_for(caller: Principal, wanted: TicketFilter, before: str | None, limit: int, *,
                      views: MongoViews, now: datetime, history_start: date) -> Page:
    """Return a page of the tickets this caller may list: staff every ticket, vendors the open ones handed to
    their vendor, reporters their own (My Tickets) -- each from the read path shaped for it."""
    if caller.role is Role.VENDOR:
        return await open_work(views, replace(wanted, reporter_id=None, vendor_id=caller.vendor_id), before, limit)
    if caller.is_staff:
        return await staff_history(views, replace(wanted, reporter_id=None, vendor_id=None), before, limit, now,
                                   history_start)
    return await reporter_history(views, replace(wanted, reporter_id=caller.id, vendor_id=None), before, limit)


async def created_between(views: MongoViews, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Return severity and outcomes of every ticket created in [start, end): the SLA report's input.

    Reads the directories of the window's months, then the compact `sla:<shelf>` documents of the
    shelves of its days (one short line per ticket), not the summaries.
    """
    months = []
    month = date(start.year, start.month, 1)
    while datetime.combine(month, datetime.min.time(), UTC) < end:
        months.append(days_directory_id(month.strftime("%Y-%m")))
        month = (month + timedelta(days=32)).replace(day=1)
    first, last = start.date().isoformat(), end.date().isoformat()
    shelves = [shelf for shelf in await views.shelves(months) if first <= shelf.key[:10] <= last]
    rows = (parse_sla_line(line) for line in await views.entries(f"sla:{shelf.key}" for shelf in shelves))
    return [row for row in rows if start <= row["created_at"] < end]


def days_in_window(start: datetime, end: datetime) -> int:
    """Return how many calendar days (UTC) a window touches."""
    return (end.date() - start.date()).days + 1

