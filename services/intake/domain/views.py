"""Read models of the tickets, shaped so every hot read is a handful of lookups by `_id` (pure).

MongoDB's schema patterns, chosen for a store that answers only `{_id: x}` without scanning:
- `mine:<reporter>:<year>` (subset): a reporter's ticket summaries of one year, for My Tickets;
- `open:<bucket>` (computed): summaries of every ticket not Closed, hashed into OPEN_BUCKETS
  documents, for the agents' queue, the work-in-flight gauges and open-status filters;
- `day:<YYYY-MM-DD>` (bucket): summaries of the tickets created that day, without their clocks
  but with their SLA outcomes and title words, for history by date, the SLA report and search;
- `words:<YYYY-MM>` (inverted index): for each title word, the days of that month it occurs in;
- `features:<bucket>`: feature requests not Closed, for the voting board.
Each entry is keyed by ticket id and set to the ticket's whole summary, so applying one twice
or late is harmless (absolute, idempotent) and a rebuild from the tickets gives the same documents.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.contracts import FINISHED_STATUSES, Status

OPEN_BUCKETS = 32
FEATURE_BUCKETS = 4
STOP_WORDS = frozenset({"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it", "its",
                        "my", "not", "of", "on", "or", "our", "the", "to", "was", "we", "with"})
CLOCK_FIELDS = ("state", "gen", "business", "budget_seconds", "anchor_at", "remaining_seconds", "due_at",
                "paused_seconds", "allowance")
"""What a summary keeps of a clock: enough to say what is left, at risk or late."""
OUTCOME_FIELDS = ("severity", "outcome", "elapsed_seconds")


def words_of(text: str) -> list[str]:
    """Return the distinct searchable words of a text: lower case, accents off, no stop words, 2+ characters."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    found: dict[str, None] = {}
    for word in re.findall(r"[a-z0-9]+", plain):
        if len(word) >= 2 and word not in STOP_WORDS:
            found[word] = None
    return list(found)


def bucket_of(ticket_id: str, buckets: int) -> int:
    """Return the stable bucket of a ticket id among `buckets` documents."""
    return int.from_bytes(hashlib.sha256(ticket_id.encode()).digest()[:4], "big") % buckets


def day_of(moment: datetime) -> str:
    """Return the UTC day of a moment as YYYY-MM-DD."""
    return moment.strftime("%Y-%m-%d")


def summary(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the summary every view keeps of a ticket (clocks and outcomes are added per view)."""
    reporter = ticket.get("reporter") or {}
    return {
        "id": ticket["_id"], "number": ticket["number"], "title": ticket["title"],
        "kind": ticket.get("kind", "incident"), "type": ticket.get("type"), "status": ticket["status"],
        "severity": ticket.get("severity"),
        "reported_severity": ticket.get("reported_severity"), "tier": ticket.get("tier"), "team": ticket.get("team"),
        "assignee": ticket.get("assignee"), "reporter": {"id": reporter.get("id"), "name": reporter.get("name")},
        "vendor": (ticket.get("vendor") or {}).get("id") if isinstance(ticket.get("vendor"), dict) else None,
        "created_at": ticket["created_at"], "votes": ticket.get("votes", 0), "rev": ticket.get("rev", 0),
    }


def _clocks(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the summary of the ticket's response and resolution clocks."""
    clocks = ((ticket.get("sla") or {}).get("clocks") or {}) if isinstance(ticket.get("sla"), dict) else {}
    return {target: {key: clock.get(key) for key in CLOCK_FIELDS}
            for target, clock in clocks.items() if target in ("response", "resolution")}


def _outcomes(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the ticket's measured response and resolution outcomes, as the report reads them."""
    found = {}
    for field in ("sla_response", "sla_resolution"):
        outcome = ticket.get(field)
        if outcome:
            found[field] = {key: outcome.get(key) for key in OUTCOME_FIELDS}
    return found


def _history(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return what the SLA dashboard reads of a ticket besides its outcomes: its tier moves and its vendor's answer."""
    found: dict[str, Any] = {}
    steps = ticket.get("escalations") or []
    if steps:
        found["escalations"] = [{key: step.get(key) for key in ("at", "from_tier", "to_tier", "trigger")}
                                for step in steps]
    vendor = ticket.get("vendor")
    if isinstance(vendor, dict) and vendor.get("handed_at"):
        found["vendor_answer"] = {key: vendor.get(key) for key in ("id", "name", "handed_at", "answer_due_at",
                                                                   "answered_at")}
    return found


def with_clocks(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the summary with the ticket's clocks and outcomes (My Tickets, the open work)."""
    return {**summary(ticket), "clocks": _clocks(ticket), **_outcomes(ticket)}


def mine_id(ticket: dict[str, Any]) -> str:
    """Return the id of the reporter's view document holding this ticket."""
    return f"mine:{ticket['reporter']['id']}:{ticket['created_at'].year}"


def day_id(ticket: dict[str, Any]) -> str:
    """Return the id of the day bucket holding this ticket."""
    return f"day:{day_of(ticket['created_at'])}"


def open_id(ticket_id: str) -> str:
    """Return the id of the open-work bucket holding this ticket while it is not Closed."""
    return f"open:{bucket_of(ticket_id, OPEN_BUCKETS)}"


def feature_id(ticket_id: str) -> str:
    """Return the id of the feature-request bucket holding this request while it is not Closed."""
    return f"features:{bucket_of(ticket_id, FEATURE_BUCKETS)}"


def is_open(ticket: dict[str, Any]) -> bool:
    """Return True for tickets in the open work: everything not Closed (Resolved waits for the reporter)."""
    return ticket["status"] != Status.CLOSED


def projection(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {view document id: entry} for every view that holds the ticket now (the entry is what to set)."""
    docs = {mine_id(ticket): with_clocks(ticket),
            day_id(ticket): {**summary(ticket), **_outcomes(ticket), **_history(ticket)}}
    if is_open(ticket):
        docs[open_id(ticket["_id"])] = with_clocks(ticket)
    if ticket.get("kind") == "feature_request" and is_open(ticket):
        docs[feature_id(ticket["_id"])] = {**summary(ticket), "use_case": ticket.get("use_case"),
                                           "importance": ticket.get("importance"),
                                           "feature_status": ticket.get("feature_status") or "under_review"}
    return docs


def view_updates(before: dict[str, Any] | None, after: dict[str, Any], *, repair: bool = False) -> dict[str, dict[str, Any]]:
    """Return {view document id: update} that moves the views from `before` to `after` (None: a new ticket).

    With repair (nothing known of the past), entries the ticket should not have are removed too.
    """
    ticket_id = after["_id"]
    old = projection(before) if before is not None else {}
    new = projection(after)
    updates: dict[str, dict[str, Any]] = {}
    for doc_id, entry in new.items():
        if doc_id not in old or _without_rev(old[doc_id]) != _without_rev(entry):
            updates[doc_id] = {"$set": {f"entries.{ticket_id}": entry}}
    gone = old.keys() - new.keys()
    if repair:
        gone = {open_id(ticket_id), feature_id(ticket_id)} - new.keys()
    for doc_id in gone:
        updates[doc_id] = {"$unset": {f"entries.{ticket_id}": ""}}
    if before is None:
        words = words_of(after["title"])
        day = day_of(after["created_at"])
        if words:
            updates.setdefault(day_id(after), {}).setdefault("$addToSet", {}).update(
                {f"words.{word}": ticket_id for word in words})
            updates[f"words:{day[:7]}"] = {"$addToSet": {f"words.{word}": day for word in words}}
    return updates


def _without_rev(entry: dict[str, Any]) -> dict[str, Any]:
    """Return an entry without the revision it was projected from (a write that changed nothing shown)."""
    return {key: value for key, value in entry.items() if key != "rev"}


def finished(entry: dict[str, Any]) -> bool:
    """Return True if a summary's ticket is Resolved or Closed."""
    return entry["status"] in FINISHED_STATUSES


def build_views(tickets: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return every view document, built from scratch from the tickets (what `incidents rebuild-views` writes)."""
    documents: dict[str, dict[str, Any]] = {}
    for ticket in tickets:
        for doc_id, entry in projection(ticket).items():
            documents.setdefault(doc_id, {}).setdefault("entries", {})[ticket["_id"]] = entry
        day = day_of(ticket["created_at"])
        for word in words_of(ticket["title"]):
            day_words = documents.setdefault(day_id(ticket), {}).setdefault("words", {}).setdefault(word, [])
            if ticket["_id"] not in day_words:
                day_words.append(ticket["_id"])
            month_words = documents.setdefault(f"words:{day[:7]}", {}).setdefault("words", {}).setdefault(word, [])
            if day not in month_words:
                month_words.append(day)
    return documents
