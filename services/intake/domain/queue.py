"""The agents' queue: which open tickets a view shows, most urgent first, with their countdown and counts (pure).

Input is the open work (every ticket not Closed, from the `open:*` view documents), each summary with
its response and resolution clocks. Urgency is the time left on the running clock that matters (the
earliest due one), counted as the target counts it (working time for Low); overdue tickets come
first (the most overdue on top), then running clocks by time left, then tickets not triaged yet,
then paused clocks (waiting for the reporter or on hold), and last the resolved tickets that wait
for their reporter's confirmation.

`standing` and `admits` say what a ticket's place and a filter mean, one ticket at a time. A page
ranks 2,000 open tickets, so `QueueEntry` works out once per stored entry what does not move with
time, and `rank_queue` ranks and counts them in one pass; tests/unit/test_console_queue_order.py
proves the result equal to applying `standing` and `admits` to every ticket.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from services.intake.domain.sla import OUTCOME_FIELD
from services.intake.domain.views import words_of
from shared.contracts import Status
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import PAUSED, RUNNING, remaining_at, used_fraction
from shared.sla.working_timeline import EPOCH, Mark, WorkingTimeline, utc_us

ASSIGNEE_CHOICES = ("me", "nobody", "someone")
FIXED_FACETS = ("team", "tier", "severity", "status", "type")
"""The counted criteria whose value is the ticket's own (the assignee's is me, nobody or someone: who looks)."""
FACETS = (*FIXED_FACETS, "assignee")
"""The filters the queue counts per value (text is a search, not counted)."""
OVERDUE, RUNNING_GROUP, UNTRIAGED, PAUSED_GROUP, WAITING_FOR_REPORTER = range(5)


@dataclass(frozen=True)
class QueueFilter:
    """What an agent's view of the queue asks for; None means any. Kept in the URL."""

    team: str | None = None
    tier: int | None = None
    severity: str | None = None
    status: str | None = None
    type: str | None = None
    assignee: str | None = None
    """me, nobody or someone."""
    text: str | None = None

    def without(self, name: str) -> QueueFilter:
        """Return this filter with one criterion cleared (to count the values of that criterion)."""
        return replace(self, **{name: None})

    def as_params(self) -> dict[str, str]:
        """Return the criteria that are set, as URL query parameters (the text search is `q`)."""
        return {("q" if f.name == "text" else f.name): str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) not in (None, "")}


@dataclass(frozen=True)
class Me:
    """Who is looking: an assignee matches them by e-mail address or name (case ignored)."""

    name: str
    email: str | None = None

    def is_assignee(self, assignee: str | None) -> bool:
        """Return True if the assignee names this person."""
        if not assignee:
            return False
        wanted = assignee.strip().lower()
        return wanted == self.name.strip().lower() or (self.email is not None and wanted == self.email.lower())


def assignee_choice(entry: dict[str, Any], me: Me) -> str:
    """Return me, nobody or someone for a summary's assignee."""
    assignee = entry.get("assignee")
    if not assignee:
        return "nobody"
    return "me" if me.is_assignee(assignee) else "someone"


def facet_value(entry: dict[str, Any], name: str, me: Me) -> str | None:
    """Return the value a summary has for one counted criterion (as a string; None when it has none)."""
    return assignee_choice(entry, me) if name == "assignee" else fixed_value(entry, name)


def fixed_value(entry: dict[str, Any], name: str) -> str | None:
    """Return a summary's value of a counted criterion other than the assignee (as a string; None when it has none)."""
    value = entry.get(name)
    return None if value is None else str(value)


def text_matches(entry: dict[str, Any], text: str) -> bool:
    """Return True if the text is the ticket's number, or every word of it is a word of the title."""
    stripped = text.strip()
    if stripped.upper() == str(entry.get("number", "")).upper():
        return True
    words = words_of(stripped)
    return bool(words) and set(words) <= set(words_of(entry.get("title") or ""))


def admits(wanted: QueueFilter, entry: dict[str, Any], me: Me) -> bool:
    """Return True if a summary passes every criterion of the filter."""
    for name in FACETS:
        value = getattr(wanted, name)
        if value is not None and facet_value(entry, name, me) != str(value):
            return False
    return wanted.text is None or not wanted.text.strip() or text_matches(entry, wanted.text)


@dataclass(frozen=True)
class Standing:
    """Where a ticket stands in the queue: its group and key (sort order), countdown words, tone and due time."""

    group: int
    key: float
    words: str
    tone: str
    """overdue, at_risk, ok, paused, waiting or new."""
    due_at: datetime | None = None
    business: bool = False


def _live_clocks(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return the response and resolution clocks whose target is not reached yet."""
    clocks = entry.get("clocks") or {}
    return [(target, clock) for target, clock in clocks.items()
            if target in ("response", "resolution") and not entry.get(OUTCOME_FIELD[target])]


def standing(entry: dict[str, Any], now: datetime, calendar: BusinessCalendar, at_risk_fraction: float) -> Standing:
    """Return a ticket's place in the queue and its countdown, from its clocks as they stand at now."""
    if entry.get("status") == Status.RESOLVED:
        return Standing(WAITING_FOR_REPORTER, 0.0, "resolved: waiting for the reporter", "waiting")
    live = _live_clocks(entry)
    running = [(t, c, remaining_at(c, now, calendar)) for t, c in live if c.get("state") == RUNNING]
    if running:
        target, clock, left = min(running, key=lambda item: item[2])
        business = bool(clock.get("business"))
        if left < 0:
            return Standing(OVERDUE, left, f"{target} overdue {countdown(left, business)}", "overdue",
                            clock.get("due_at"), business)
        tone = "at_risk" if used_fraction(clock, now, calendar) >= at_risk_fraction else "ok"
        return Standing(RUNNING_GROUP, left, f"{target} in {countdown(left, business)}", tone, clock.get("due_at"),
                        business)
    paused = [(t, c, remaining_at(c, now, calendar)) for t, c in live if c.get("state") == PAUSED]
    if paused:
        target, clock, left = min(paused, key=lambda item: item[2])
        why = "waiting for the reporter" if entry.get("status") == Status.WAITING_FOR_INFO else "on hold"
        return Standing(PAUSED_GROUP, left, f"paused ({why}): {target} {countdown(left, bool(clock.get('business')))} "
                                            "left", "paused", None, bool(clock.get("business")))
    if not entry.get("clocks"):
        created = entry.get("created_at")
        return Standing(UNTRIAGED, created.timestamp() if created else 0.0, "being triaged", "new")
    return Standing(RUNNING_GROUP, float("inf"), "targets reached", "ok")


NBSP = "\u00a0"
"""No-break space: keeps a number on the line of its unit."""


def countdown(seconds: float, business: bool) -> str:
    """Return a countdown the way agents read it: '45 min', '3 h 20 min', '2 d 4 h'; working hours for Low.

    Each number is joined to its unit by a no-break space, so a narrow column never leaves a unit alone on a line.
    """
    minutes = max(1, round(abs(seconds) / 60))
    if business and minutes >= 60:
        return f"{round(minutes / 60)}{NBSP}working{NBSP}h"
    if minutes < 60:
        return f"{minutes}{NBSP}min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}{NBSP}h {minutes}{NBSP}min" if minutes else f"{hours}{NBSP}h"
    days, hours = divmod(hours, 24)
    return f"{days}{NBSP}d {hours}{NBSP}h" if hours else f"{days}{NBSP}d"


@dataclass(frozen=True)
class QueueRow:
    """One ticket in the queue with its standing."""

    entry: dict[str, Any]
    standing: Standing
    new: bool = False


@dataclass(frozen=True)
class QueueView:
    """What the queue page shows: the most urgent rows, how many matched, the counts per filter value, what is new."""

    rows: list[QueueRow]
    matched: int
    total: int
    counts: dict[str, dict[str, int]]
    new_since: int
    newest_id: str | None


class QueueEntry:
    """An open-work summary with what its place in the queue needs, worked out once per stored version.

    What does not move with time is kept as it is (facet values, title words, and the group and key
    of a resolved, paused, untriaged or finished ticket); a running clock keeps its time left at its
    anchor and the anchor's place on the working timeline, so its time left now is one subtraction.
    """

    __slots__ = ("entry", "id", "values", "assignee", "fixed", "running", "_title_words")

    def __init__(self, entry: dict[str, Any], timeline: WorkingTimeline) -> None:
        self.entry = entry
        self.id: str = entry["id"]
        get = entry.get
        self.values = tuple(v if v is None or type(v) is str else str(v)
                            for v in (get("team"), get("tier"), get("severity"), get("status"), get("type")))
        """Its values of FIXED_FACETS, as `fixed_value` gives them."""
        assignee = entry.get("assignee")
        self.assignee: str | None = assignee.strip().lower() if assignee else None
        self.fixed: tuple[int, float] | None = None
        self.running: tuple[tuple[float, int, Mark | None], ...] = ()
        """Per running clock: its time left at the anchor, the anchor in microseconds, and its place if business."""
        self._title_words: frozenset[str] | None = None
        live = [] if entry.get("status") == Status.RESOLVED else _live_clocks(entry)
        running = [c for _, c in live if c.get("state") == RUNNING]
        if running:
            self.running = tuple((c["remaining_seconds"], utc_us(c["anchor_at"]),
                                  timeline.mark(c["anchor_at"]) if c["business"] else None) for c in running)
        else:
            here = standing(entry, EPOCH, timeline.calendar, 1.0)  # without a running clock, no part of it reads now
            self.fixed = (here.group, here.key)

    def title_words(self) -> frozenset[str]:
        """Return the searchable words of the title."""
        if self._title_words is None:
            self._title_words = frozenset(words_of(self.entry.get("title") or ""))
        return self._title_words

    def place(self, now: Mark, timeline: WorkingTimeline) -> tuple[int, float]:
        """Return the group and key `standing` gives this ticket at now (the sort order, without the words)."""
        if self.fixed is not None:
            return self.fixed
        left = min(remaining - (now.utc_us - anchor_us if mark is None else timeline.between_us(mark, now)) / 1_000_000
                   for remaining, anchor_us, mark in self.running)
        return (OVERDUE, left) if left < 0 else (RUNNING_GROUP, left)


@dataclass(frozen=True)
class TextQuery:
    """The text search of a filter, split once: a ticket number or title words."""

    upper: str
    words: frozenset[str]

    @classmethod
    def of(cls, text: str | None) -> TextQuery | None:
        """Return the query, or None when the filter has no text."""
        if text is None or not text.strip():
            return None
        return cls(text.strip().upper(), frozenset(words_of(text.strip())))

    def matches(self, item: QueueEntry) -> bool:
        """Return True where `text_matches` does: the ticket's number, or every word a word of the title."""
        if self.upper == str(item.entry.get("number", "")).upper():
            return True
        return bool(self.words) and self.words <= item.title_words()


def prepare(entries: list[dict[str, Any]], timeline: WorkingTimeline) -> list[QueueEntry]:
    """Return the open entries (Closed ones left out) ready for ranking."""
    return [QueueEntry(e, timeline) for e in entries if e.get("status") != Status.CLOSED]


def rank_queue(items: list[QueueEntry], wanted: QueueFilter, me: Me, *, now: datetime, timeline: WorkingTimeline,
               at_risk_fraction: float, limit: int, since: str | None = None) -> QueueView:
    """Return the queue: the `limit` most urgent matching tickets, with counts and the tickets newer than `since`.

    One pass over the open work: an item missing no criterion is matched and counts for every value
    it has; one missing a single criterion counts only for its value of that criterion (what that
    value's count shows with the other criteria kept); the text search is never counted, only kept.
    """
    me_keys = {me.name.strip().lower(), *([me.email.lower()] if me.email is not None else [])}
    asked = tuple(None if getattr(wanted, name) is None else str(getattr(wanted, name)) for name in FACETS)
    query = TextQuery.of(wanted.text)
    tallies: list[dict[str, int]] = [{} for _ in FACETS]
    matched: list[QueueEntry] = []
    for item in items:
        assignee = "nobody" if item.assignee is None else "me" if item.assignee in me_keys else "someone"
        values = (*item.values, assignee)
        missed = [i for i, want in enumerate(asked) if want is not None and values[i] != want]
        if len(missed) > 1 or (query is not None and not query.matches(item)):
            continue
        for i in missed or range(len(FACETS)):
            value = values[i]
            if value is not None:
                tallies[i][value] = tallies[i].get(value, 0) + 1
        if not missed:
            matched.append(item)
    mark = timeline.mark(now)
    most_urgent = heapq.nsmallest(limit, ((*item.place(mark, timeline), item.id, item) for item in matched),
                                  key=lambda ranked: ranked[:3])
    rows = [QueueRow(item.entry, standing(item.entry, now, timeline.calendar, at_risk_fraction),
                     new=since is not None and item.id > since) for *_, item in most_urgent]
    new_since = sum(1 for item in matched if item.id > since) if since is not None else 0
    return QueueView(rows=rows, matched=len(matched), total=len(items),
                     counts={name: tallies[i] for i, name in enumerate(FACETS)}, new_since=new_since,
                     newest_id=max((item.id for item in items), default=None))


def build_queue(entries: list[dict[str, Any]], wanted: QueueFilter, me: Me, *, now: datetime,
                calendar: BusinessCalendar, at_risk_fraction: float, limit: int, since: str | None = None) -> QueueView:
    """Return the queue of these entries at now (everything worked out afresh; `OpenQueue` keeps it between pages)."""
    timeline = WorkingTimeline(calendar)
    return rank_queue(prepare(entries, timeline), wanted, me, now=now, timeline=timeline,
                      at_risk_fraction=at_risk_fraction, limit=limit, since=since)
