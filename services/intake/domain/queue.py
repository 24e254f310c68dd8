"""The agents' queue: which open tickets a view shows, most urgent first, with their countdown and counts (pure).

Input is the open work (every ticket not Closed, from the `open:*` view documents), each summary with
its response and resolution clocks. Urgency is the time left on the running clock that matters (the
earliest due one), counted as the target counts it (working time for Low); overdue tickets come
first (the most overdue on top), then running clocks by time left, then tickets not triaged yet,
then paused clocks (waiting for the reporter or on hold), and last the resolved tickets that wait
for their reporter's confirmation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from services.intake.domain.sla import OUTCOME_FIELD
from services.intake.domain.views import words_of
from shared.contracts import Status
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import PAUSED, RUNNING, remaining_at, used_fraction

ASSIGNEE_CHOICES = ("me", "nobody", "someone")
FACETS = ("team", "tier", "severity", "status", "type", "assignee")
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
    if name == "assignee":
        return assignee_choice(entry, me)
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


def countdown(seconds: float, business: bool) -> str:
    """Return a countdown the way agents read it: '45 min', '3 h 20 min', '2 d 4 h'; working hours for Low."""
    minutes = max(1, round(abs(seconds) / 60))
    if business and minutes >= 60:
        return f"{round(minutes / 60)} working h"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


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


def counts_per_value(entries: list[dict[str, Any]], wanted: QueueFilter, me: Me) -> dict[str, dict[str, int]]:
    """Return, per criterion, how many tickets each value would show with the other criteria kept (facet counts)."""
    counts: dict[str, dict[str, int]] = {}
    for name in FACETS:
        others = wanted.without(name)
        tally: Counter = Counter(facet_value(e, name, me) for e in entries if admits(others, e, me))
        counts[name] = {str(value): count for value, count in tally.items() if value is not None}
    return counts


def build_queue(entries: list[dict[str, Any]], wanted: QueueFilter, me: Me, *, now: datetime,
                calendar: BusinessCalendar, at_risk_fraction: float, limit: int, since: str | None = None) -> QueueView:
    """Return the queue: the `limit` most urgent matching tickets, with counts and the tickets newer than `since`."""
    open_entries = [e for e in entries if e.get("status") != Status.CLOSED]
    matched = [e for e in open_entries if admits(wanted, e, me)]
    ranked = sorted(((standing(e, now, calendar, at_risk_fraction), e) for e in matched),
                    key=lambda pair: (pair[0].group, pair[0].key, pair[1]["id"]))
    rows = [QueueRow(e, s, new=since is not None and e["id"] > since) for s, e in ranked[:limit]]
    newest = max((e["id"] for e in open_entries), default=None)
    new_since = sum(1 for e in matched if since is not None and e["id"] > since)
    return QueueView(rows=rows, matched=len(matched), total=len(open_entries),
                     counts=counts_per_value(open_entries, wanted, me), new_since=new_since, newest_id=newest)
