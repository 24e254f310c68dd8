"""Several events' changes of one ticket as one update (pure): what MongoTickets.change_many writes.

Each change is computed on the ticket as the changes before it left it, exactly as one write per
change would: its fields are applied to a working copy in the form the database stores them (a
round trip through BSON, so a later change reads times truncated to milliseconds as it would after
a re-read), its timeline entries numbered after theirs. The update then sets each top-level field
any change touched to its final value, so paths of different changes never conflict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.packing import pack_all

Fields = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
"""The $set of a change, or a function computing it from the current ticket (inside the guarded write)."""
Entries = list[dict[str, Any]] | Callable[[dict[str, Any]], list[dict[str, Any]]]
"""The timeline entries of a change, or a function computing them from the current ticket."""

APPLIED_EVENTS_KEPT = 64
"""Event ids a ticket remembers as applied: redeliveries come soon after the first delivery."""
BOOKKEEPING = frozenset({"_id", "rev", "timeline", "timeline_seq", "applied_events", "outbox", "views_pending",
                         "shelves"})
"""Fields only the store itself writes: a change setting one is written on its own."""


class NotCombinable(Exception):
    """These changes cannot be written as one update; write them one at a time (nothing was written)."""


@dataclass(frozen=True)
class Change:
    """One event's change of a ticket: fields to set and timeline entries to add, once per event_id."""

    fields: Fields
    entries: Entries
    event_id: str


def remember_event(ticket: dict[str, Any], event_id: str) -> list[str]:
    """Return the ticket's applied event ids with event_id added, keeping the latest APPLIED_EVENTS_KEPT."""
    return [*ticket.get("applied_events", []), event_id][-APPLIED_EVENTS_KEPT:]


def numbered(ticket: dict[str, Any], entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Return the entries with their timeline sequence numbers, and the ticket's next sequence number."""
    start = int(ticket.get("timeline_seq", len(ticket.get("timeline", []))))
    return [{**entry, "seq": start + offset} for offset, entry in enumerate(entries)], start + len(entries)


def combined_update(current: dict[str, Any], changes: list[Change],
                    stored: Callable[[Any], Any]) -> dict[str, Any]:
    """Return one update applying the changes in order to `current` (its timeline unpacked), as one write each would.

    stored(value) returns a value as the database gives it back. Raises NotCombinable if a change's
    event was already applied (a redelivery: one write at a time finishes its views), or a change
    sets a bookkeeping field or a path through a value that is not a document.
    """
    if not changes:
        raise NotCombinable("no changes")
    working = copy.deepcopy(current)
    touched: set[str] = set()
    added: list[dict[str, Any]] = []
    for change in changes:
        if change.event_id in working.get("applied_events", []):
            raise NotCombinable(f"event {change.event_id} was already applied to ticket {current.get('_id')}")
        fields = change.fields(working) if callable(change.fields) else change.fields
        entries = change.entries(working) if callable(change.entries) else change.entries
        for path, value in fields.items():
            top = path.split(".", 1)[0]
            if top in BOOKKEEPING or top.startswith("$"):
                raise NotCombinable(f"a change sets {path}")
            _set_path(working, path, stored(value))
            touched.add(top)
        entries, working["timeline_seq"] = numbered(working, [stored(entry) for entry in entries])
        working["timeline"] = [*working.get("timeline", []), *entries]
        working["applied_events"] = remember_event(working, change.event_id)
        added += entries
    sets = {name: working[name] for name in sorted(touched)}
    sets.update(timeline_seq=working.get("timeline_seq", len(working.get("timeline", []))),
                applied_events=working.get("applied_events", []))
    return {"$set": sets, **({"$push": {"timeline": {"$each": pack_all(added)}}} if added else {})}


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path as MongoDB's $set does: missing documents on the way are created."""
    *parents, leaf = path.split(".")
    target = document
    for name in parents:
        if name not in target:
            target[name] = {}
        target = target[name]
        if not isinstance(target, dict):
            raise NotCombinable(f"{path} goes through a value that is not a document")
    target[leaf] = value
