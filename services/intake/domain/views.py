"""Read models of the tickets, shaped so every hot read is a handful of lookups by `_id` (pure).

MongoDB's schema patterns, chosen for a store that answers only `{_id: x}` without scanning:
- `mine:<reporter>:<shelf>` (subset, bucket): summaries of a reporter's tickets, a few dozen per
  shelf, for My Tickets (domain/shelves.py: shelves and their directories);
- `open:<bucket>` (computed): summaries of every ticket not Closed, hashed into OPEN_BUCKETS
  documents, for the agents' queue, the work-in-flight gauges and open-status filters;
- `day:<shelf>` (bucket): summaries of tickets created on one day, without their clocks but with
  their SLA outcomes, for history by date; a day has as many shelves as its tickets need;
- `sla:<shelf>` (subset, compact): one short line per ticket of the same shelf (creation time,
  severity, measured outcomes), all the SLA report reads;
- `days:<YYYY-MM>` and `reporter:<reporter>`: the directories of those shelves;
- `word:<YYYY-MM-DD>:<word>` (inverted index, bucketed by day): the ids of that day's tickets whose
  title has the word, and `words:<YYYY-MM>:<word>` the days of the month that have such a posting;
  search intersects the days, then the postings of those days newest first, and reads only the
  matching tickets by `_id`. A month-long posting list grew with every ticket of the month, and
  the docstore rewrites the whole list per addition (4.2 ms of its CPU per addition at 500 ids);
- `features:<bucket>`: feature requests not Closed, for the voting board.
Each entry is keyed by ticket id and set to the ticket's whole summary, so applying one twice
or late is harmless (absolute, idempotent) and a rebuild from the tickets gives the same documents.
Every document written with each change of a ticket is bounded (a shelf, an open bucket), so a
write costs the same on the first day and after a year.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.domain.shelves import directory_updates, history_shelf, reporter_shelf
from shared.contracts import FINISHED_STATUSES, Status

OPEN_BUCKETS = 64
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


def search_entry(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return a search result's summary of a ticket: the same shape as a day bucket's entry."""
    return {**summary(ticket), **_outcomes(ticket), **_history(ticket)}


def mine_id(ticket: dict[str, Any]) -> str:
    """Return the id of the reporter shelf holding this ticket's summary."""
    return f"mine:{ticket['reporter']['id']}:{reporter_shelf(ticket)}"


def day_id(ticket: dict[str, Any]) -> str:
    """Return the id of the history shelf holding this ticket's summary."""
    return f"day:{history_shelf(ticket)}"


def sla_id(ticket: dict[str, Any]) -> str:
    """Return the id of the history shelf's compact SLA document holding this ticket's line."""
    return f"sla:{history_shelf(ticket)}"


def word_id(day: str, word: str) -> str:
    """Return the id of the posting list of a title word on a day (YYYY-MM-DD)."""
    return f"word:{day}:{word}"


def word_days_id(month: str, word: str) -> str:
    """Return the id of the list of days (DD) of a month (YYYY-MM) that have a posting list of the word."""
    return f"words:{month}:{word}"


def listed_day(doc_id: str, update: dict[str, Any]) -> tuple[str, str] | None:
    """Return (month's day list id, day) when update only adds a day to a title word's month list, else None."""
    if doc_id.startswith("words:") and update.keys() == {"$addToSet"} and update["$addToSet"].keys() == {"days"}:
        day = update["$addToSet"]["days"]
        if isinstance(day, str):
            return doc_id, day
    return None


def posting_updates(ticket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the updates that put a new ticket in the posting lists of its title words (idempotent)."""
    day = day_of(ticket["created_at"])
    updates: dict[str, dict[str, Any]] = {}
    for word in words_of(ticket["title"]):
        updates[word_id(day, word)] = {"$addToSet": {"ids": ticket["_id"]}}
        updates[word_days_id(day[:7], word)] = {"$addToSet": {"days": day[8:]}}
    return updates


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SLA_LINE_FIELDS = 8
"""created_at (epoch ms) | severity | response: severity, outcome, elapsed | resolution: the same [| history JSON]."""
HISTORY_TIMES = ("at", "handed_at", "answer_due_at", "answered_at")
"""The moments in a ticket's history (`_history`): ISO 8601 in the line, datetimes when parsed."""


def sla_line(ticket: dict[str, Any]) -> str:
    """Return the ticket's compact SLA line: what the SLA report needs of it, as one short string."""
    created = ticket["created_at"]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)  # stored naive means UTC
    epoch_ms = (created - EPOCH) // timedelta(milliseconds=1)  # floored, as the database stores it
    parts = [str(epoch_ms), ticket.get("severity") or ""]
    for field in ("sla_response", "sla_resolution"):
        outcome = ticket.get(field) or {}
        elapsed = outcome.get("elapsed_seconds")
        parts += [outcome.get("severity") or "", outcome.get("outcome") or "",
                  "" if elapsed is None else repr(float(elapsed))]
    history = _history(ticket)
    if history:  # the few tickets that moved tier or went to a vendor: what the SLA dashboard counts
        parts.append(json.dumps(history, default=_iso, separators=(",", ":"), sort_keys=True))
    return "|".join(parts)


def _iso(value: Any) -> str:
    """Return a datetime as ISO 8601 (UTC when stored naive), for the history part of an SLA line."""
    if not isinstance(value, datetime):
        raise TypeError(f"not JSON: {type(value).__name__}")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _times(item: dict[str, Any]) -> dict[str, Any]:
    """Return a history item with its moments as aware datetimes again."""
    return {key: datetime.fromisoformat(value) if key in HISTORY_TIMES and isinstance(value, str) else value
            for key, value in item.items()}


def parse_sla_line(line: str) -> dict[str, Any]:
    """Return the report's view of one SLA line: created_at, severity and the measured outcomes present."""
    parts = line.split("|", SLA_LINE_FIELDS)
    if len(parts) < SLA_LINE_FIELDS:
        raise ValueError(f"an SLA line has at least {SLA_LINE_FIELDS} fields, not {len(parts)}: {line!r}")
    found: dict[str, Any] = {"created_at": datetime.fromtimestamp(int(parts[0]) / 1000, UTC),
                             "severity": parts[1] or None}
    for field, (severity, outcome, elapsed) in (("sla_response", parts[2:5]), ("sla_resolution", parts[5:8])):
        if outcome:
            found[field] = {"severity": severity, "outcome": outcome, "elapsed_seconds": float(elapsed)}
    if len(parts) > SLA_LINE_FIELDS:
        history = json.loads(parts[SLA_LINE_FIELDS])
        if history.get("escalations"):
            found["escalations"] = [_times(step) for step in history["escalations"]]
        if history.get("vendor_answer"):
            found["vendor_answer"] = _times(history["vendor_answer"])
    return found


def open_id(ticket_id: str) -> str:
    """Return the id of the open-work bucket holding this ticket while it is not Closed."""
    return f"open:{bucket_of(ticket_id, OPEN_BUCKETS)}"


def feature_id(ticket_id: str) -> str:
    """Return the id of the feature-request bucket holding this request while it is not Closed."""
    return f"features:{bucket_of(ticket_id, FEATURE_BUCKETS)}"


def is_open(ticket: dict[str, Any]) -> bool:
    """Return True for tickets in the open work: everything not Closed (Resolved waits for the reporter)."""
    return ticket["status"] != Status.CLOSED


def projection(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return {view document id: entry} for every view that holds the ticket now (the entry is what to set)."""
    docs: dict[str, Any] = {mine_id(ticket): with_clocks(ticket),
                            day_id(ticket): search_entry(ticket), sla_id(ticket): sla_line(ticket)}
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
        updates.update(posting_updates(after))
        updates.update(directory_updates(after))
    return updates


def _without_rev(entry: Any) -> Any:
    """Return an entry without the revision it was projected from (a write that changed nothing shown)."""
    if not isinstance(entry, dict):
        return entry
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
        for doc_id, update in {**posting_updates(ticket), **directory_updates(ticket)}.items():
            _apply(documents.setdefault(doc_id, {}), update)
    return documents


def _apply(document: dict[str, Any], update: dict[str, dict[str, Any]]) -> None:
    """Apply an update of `$addToSet` (one value), `$min` and `$max` on dotted paths to a document in memory, as the
    database does."""
    for operator, fields in update.items():
        for path, value in fields.items():
            *parents, leaf = path.split(".")
            target = document
            for name in parents:
                target = target.setdefault(name, {})
            if operator == "$addToSet":
                values = target.setdefault(leaf, [])
                if value not in values:
                    values.append(value)
            else:
                keep = min if operator == "$min" else max
                target[leaf] = keep(target[leaf], value) if leaf in target else value
