"""Shelves: the bounded buckets a ticket's history and reporter summaries live in (pure).

MongoDB's bucket pattern with a size bound. A view document that grows with every ticket of a day
or of a reporter costs more to rewrite with each ticket (the docstore rewrites the whole document on
every update), so the summaries are kept on *shelves* of at most a few dozen tickets:
- a history shelf holds tickets created on one UTC day: `day:<shelf>` (summaries) and `sla:<shelf>`
  (compact SLA lines), where the shelf is `<YYYY-MM-DD>-<id of the ticket that opened it>`;
- a reporter shelf holds one reporter's tickets: `mine:<reporter>:<shelf>`, the shelf being the id
  of the ticket that opened it.
Each ticket records its shelves when it is created (`shelves` on the ticket), so every later write
and a rebuild put it on the same ones. Which shelves exist, and the range of ticket ids on each, is
kept in small directory documents maintained with `$min`/`$max` (idempotent, and equal to what a
rebuild computes): `days:<YYYY-MM>` for a month's history shelves, `reporter:<reporter>` for a
reporter's. Tickets stored before shelves existed sit on the shelf of their day (`<YYYY-MM-DD>`) and
of their reporter's year (`<YYYY>`), the documents they were on before.

Which shelf a new ticket goes on is chosen per process (`Shelving`): the group's newest shelf until
it holds `size` tickets, then a new one. Two processes filling one shelf at once overfill it by at
most one shelf's worth each; a process that has not seen a group yet learns its newest shelf from
the directory first, so restarts do not leave a trail of half-empty shelves.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

HISTORY_SHELF_SIZE = 128
"""Tickets per history shelf: a day shelf's summaries stay under ~80 KB, its SLA lines under ~12 KB."""
REPORTER_SHELF_SIZE = 64
"""Tickets per reporter shelf: a reporter shelf stays under ~70 KB, one or two cover a My Tickets page."""
REMEMBERED_GROUPS = 4096
"""Groups (days, reporters) a process remembers the current shelf of; others are looked up again."""


@dataclass(frozen=True)
class Shelf:
    """One shelf in a directory: its key, the range of ticket ids on it and the highest rank placed on it."""

    key: str
    first: str
    last: str
    rank: int


def day_text(ticket: dict[str, Any]) -> str:
    """Return the UTC day a ticket was created, as YYYY-MM-DD."""
    return ticket["created_at"].strftime("%Y-%m-%d")


def history_shelf(ticket: dict[str, Any]) -> str:
    """Return the key of the ticket's history shelf (its day, for tickets stored before shelves)."""
    return (ticket.get("shelves") or {}).get("history") or day_text(ticket)


def reporter_shelf(ticket: dict[str, Any]) -> str:
    """Return the key of the ticket's reporter shelf (its year, for tickets stored before shelves)."""
    return (ticket.get("shelves") or {}).get("reporter") or str(ticket["created_at"].year)


def rank_on(ticket: dict[str, Any], which: str) -> int:
    """Return the ticket's 0-based place on its history or reporter shelf (0 before shelves)."""
    return int((ticket.get("shelves") or {}).get(f"{which}_rank", 0))


def is_legacy(key: str) -> bool:
    """Return True for the shelves of tickets stored before shelves: a day (YYYY-MM-DD) or a year (YYYY)."""
    return len(key) <= len("YYYY-MM-DD")


def days_directory_id(month: str) -> str:
    """Return the id of the directory of a month's (YYYY-MM) history shelves."""
    return f"days:{month}"


def reporter_directory_id(reporter_id: str) -> str:
    """Return the id of the directory of a reporter's shelves."""
    return f"reporter:{reporter_id}"


def directory_updates(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {directory id: update} recording the ticket on its two shelves (idempotent: `$min` and `$max`)."""
    ticket_id = ticket["_id"]
    found = {}
    for doc_id, shelf, which in ((days_directory_id(day_text(ticket)[:7]), history_shelf(ticket), "history"),
                                 (reporter_directory_id(ticket["reporter"]["id"]), reporter_shelf(ticket),
                                  "reporter")):
        found[doc_id] = {"$min": {f"shelves.{shelf}.first": ticket_id},
                         "$max": {f"shelves.{shelf}.last": ticket_id, f"shelves.{shelf}.rank": rank_on(ticket, which)}}
    return found


def shelves_in(directory: dict[str, Any] | None) -> list[Shelf]:
    """Return the shelves a directory document lists, newest last ticket first."""
    found = [Shelf(key, entry["first"], entry["last"], int(entry.get("rank", 0)))
             for key, entry in ((directory or {}).get("shelves") or {}).items()
             if isinstance(entry, dict) and "first" in entry and "last" in entry]
    return sorted(found, key=lambda shelf: shelf.last, reverse=True)


def within(shelves: list[Shelf], newest_before: str | None, oldest_from: str | None) -> list[Shelf]:
    """Return the shelves holding ids below newest_before and at or above oldest_from (None: unbounded)."""
    return [shelf for shelf in shelves
            if (newest_before is None or shelf.first < newest_before)
            and (oldest_from is None or shelf.last >= oldest_from)]


class Shelving:
    """Chooses the shelves of new tickets: each group's current shelf until it holds `size` tickets."""

    def __init__(self, history_size: int = HISTORY_SHELF_SIZE, reporter_size: int = REPORTER_SHELF_SIZE,
                 remembered: int = REMEMBERED_GROUPS) -> None:
        self.sizes = {"history": history_size, "reporter": reporter_size}
        self.remembered = remembered
        self._current: OrderedDict[str, tuple[str, int] | None] = OrderedDict()

    @staticmethod
    def groups(ticket: dict[str, Any]) -> dict[str, str]:
        """Return {"history": the ticket's day group, "reporter": its reporter group}."""
        return {"history": f"day:{day_text(ticket)}", "reporter": f"reporter:{ticket['reporter']['id']}"}

    def knows(self, group: str) -> bool:
        """Return True if this process remembers the group's current shelf."""
        return group in self._current

    def learn(self, group: str, shelf: Shelf | None) -> None:
        """Remember a group's newest shelf as read from its directory (None, or one from before shelves: open one)."""
        self._remember(group, (shelf.key, shelf.rank) if shelf is not None and not is_legacy(shelf.key) else None)

    def place(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Return the `shelves` field of a new ticket: its history and reporter shelves and its rank on each."""
        placed: dict[str, Any] = {}
        for which, group in self.groups(ticket).items():
            current = self._current.get(group)
            if current is None or current[1] + 1 >= self.sizes[which]:
                key = f"{day_text(ticket)}-{ticket['_id']}" if which == "history" else ticket["_id"]
                current = (key, 0)
            else:
                current = (current[0], current[1] + 1)
            self._remember(group, current)
            placed[which], placed[f"{which}_rank"] = current
        return placed

    def _remember(self, group: str, current: tuple[str, int] | None) -> None:
        """Keep the group's current shelf, None for "open a new one" (forgetting the least recently used group)."""
        self._current[group] = current
        self._current.move_to_end(group)
        while len(self._current) > self.remembered:
            self._current.popitem(last=False)
