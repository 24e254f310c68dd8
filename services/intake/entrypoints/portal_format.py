"""How the portal words and colours what it shows: statuses, severities, SLA clocks, durations (pure)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.intake.domain.tickets import when
from services.intake.domain.timeline_words import sent_words, status_change_words
from shared.contracts import Severity, Status

if TYPE_CHECKING:
    from services.intake.entrypoints.views import TimelineEntry

ISO_INSTANT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})")

SEVERITY_LABELS = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium", Severity.LOW: "Low"}
TYPE_LABELS = {"performance": "Performance", "access": "Access", "data": "Data", "security": "Security",
               "feature": "Feature", "infrastructure": "Infrastructure"}
TYPE_HINTS = {"performance": "slow response, timeouts, latency",
              "access": "cannot log in, permission denied, account locked",
              "data": "missing data, corrupt data, sync failures",
              "security": "suspicious activity, unauthorized access, data breach",
              "feature": "bug, feature not working, unexpected behaviour",
              "infrastructure": "server down, database unavailable, connectivity"}
KIND_LABELS = {"incident": "Issue", "bug_report": "Bug report", "feature_request": "Feature request"}
SEVERITY_SIGNS = {
    Severity.CRITICAL: ("Platform is down or unavailable", "Security breach or data loss",
                        "Affects all users or large groups", "Data corruption", "Business operations halted"),
    Severity.HIGH: ("Major feature is broken", "Affects significant number of users", "Workaround not available",
                    "Security vulnerability (not active breach)", "Data at risk"),
    Severity.MEDIUM: ("Feature not working but workaround exists", "Affects specific user group or department",
                      "Performance degraded but usable", "Non-urgent security concern"),
    Severity.LOW: ("Minor bug or cosmetic issue", "Affects single user or small group", "Feature request or enhancement",
                   "Documentation issue"),
}
"""KB-005's words for each severity level."""
TARGET_NAMES = {"response": "Response", "resolution": "Resolution", "handoff": "Contact by the new team"}


def severity_label(severity: str | None) -> str:
    """Return a severity's name with its level, e.g. 'High (Severity 2)'; 'Not assessed yet' when there is none."""
    if not severity:
        return "Not assessed yet"
    try:
        level = Severity(severity)
    except ValueError:
        return str(severity)
    return f"{SEVERITY_LABELS[level]} (Severity {level.level})"


def duration(seconds: float) -> str:
    """Return a duration the way people say it: '45 min', '3 h', '2 h 30 min', '2 d 4 h'."""
    minutes = max(0, round(abs(seconds) / 60))
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes and hours < 4 else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def working_duration(seconds: float) -> str:
    """Return working time in working hours (a business day counts only its working hours): '8 working hours'."""
    minutes = max(1, round(abs(seconds) / 60))
    if minutes < 60:
        return f"{minutes} working minutes"
    hours = round(minutes / 60)
    return "1 working hour" if hours == 1 else f"{hours} working hours"


def clock_words(clock: dict[str, Any], status: str) -> tuple[str, str]:
    """Return what one SLA clock means for the reporter, and its tone (ok, late, paused, done).

    e.g. ('response due in 3 h', 'ok'), ('paused: waiting for you', 'paused'), ('resolution overdue by 2 h', 'late').
    """
    target = TARGET_NAMES.get(clock.get("target", ""), str(clock.get("target", ""))).lower()
    state = clock.get("state")
    left = clock.get("time_left_seconds") or 0.0
    if state == "paused":
        why = "waiting for you" if status == Status.WAITING_FOR_INFO else "on hold"
        return f"{target} paused: {why}", "paused"
    if state == "met":
        return f"{target} met", "done"
    if state == "breached":
        if clock.get("outcome") is None and left < 0:
            return f"{target} overdue by {duration(left)}", "late"
        return f"{target} missed", "late"
    if state == "running":
        if left < 0:
            return f"{target} overdue by {duration(left)}", "late"
        if clock.get("business_time"):
            return f"{target} due in {working_duration(left)}", "ok"
        return f"{target} due in {duration(left)}", "ok"
    return f"{target} {state or 'not started'}", "done"


def summary_sla(clocks: list[dict[str, Any]], status: str) -> tuple[str, str]:
    """Return the one SLA phrase a ticket row shows, and its tone: the clock that matters now."""
    if status == Status.CLOSED:
        return "closed", "done"
    if status == Status.RESOLVED:
        return "waiting for your confirmation", "paused"
    if not clocks:
        return "being assessed", "done"
    by_target = {c["target"]: c for c in clocks}
    for target in ("handoff", "response", "resolution"):
        clock = by_target.get(target)
        if clock is not None and is_live(clock):
            return clock_words(clock, status)
    missed = [c for c in clocks if c.get("state") == "breached"]
    return clock_words(missed[0] if missed else clocks[-1], status)


def is_live(clock: dict[str, Any]) -> bool:
    """Return True for a clock still counting or paused (a running clock past its due time shows as breached)."""
    return clock.get("state") in ("running", "paused") or (clock.get("state") == "breached"
                                                           and clock.get("outcome") is None)


def iso(moment: datetime | None) -> str:
    """Return a moment as ISO 8601 in UTC (what <time datetime> carries)."""
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def utc_words(moment: datetime | None) -> str:
    """Return a moment as words in UTC, shown until the browser rewrites it in the reader's time zone."""
    return moment.strftime("%a %-d %b %Y, %H:%M UTC") if moment else ""


def in_words(entry: TimelineEntry) -> TimelineEntry:
    """Return the entry with what older lines stored raw in words: a triage line's ISO due time, a notice's key,
    a status change's values."""
    if entry.action == "notification_sent" and entry.actor.type == "system":
        return _notice_in_words(entry)
    if entry.action == "status_changed":
        return _status_in_words(entry)
    if entry.action != "triaged" or entry.actor.type != "system":
        return entry

    def worded(match: re.Match[str]) -> str:
        try:
            return when(datetime.fromisoformat(match[0]))
        except ValueError:
            return match[0]
    return entry.model_copy(update={"detail": ISO_INSTANT.sub(worded, entry.detail)})


def _notice_in_words(entry: TimelineEntry) -> TimelineEntry:
    """Return a delivered notice's line worded from its message and channel (lines stored before were raw keys)."""
    data = entry.data or {}
    message, channel = data.get("message"), data.get("channel")
    if not isinstance(message, str) or not isinstance(channel, str):
        return entry
    return entry.model_copy(update={"detail": sent_words(message, channel)})


def _status_in_words(entry: TimelineEntry) -> TimelineEntry:
    """Return a status change's line worded from its data (lines stored before named the statuses' values); the
    reason given is kept as it was written."""
    data = entry.data or {}
    from_status, to_status, reason = data.get("from_status"), data.get("to_status"), data.get("reason")
    if not isinstance(from_status, str) or not isinstance(to_status, str):
        return entry
    return entry.model_copy(update={"detail": status_change_words(from_status, to_status,
                                                                  reason if isinstance(reason, str) else None)})
