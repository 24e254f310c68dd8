"""Restrictions: weekly windows of local wall time outside which a layer has nobody on call (pure).

A window covers exactly the instants whose local clock (in the restriction's zone) reads inside it,
so it never leaks across a daylight-saving change: the skipped spring hour shortens it, and the
repeated autumn hour counts only once it is inside the window again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from services.escalation.domain.oncall.errors import OnCallConfigError, utc
from services.escalation.domain.oncall.intervals import Interval, merge
from services.escalation.domain.oncall.tzmath import local_date, wall_intervals, zone

WEEK = timedelta(days=7)
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


def _weekday(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise OnCallConfigError(field, f"must be a weekday 0 (Monday) to 6 (Sunday), got {value!r}")
    return value


def _time(value: object, field: str) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise OnCallConfigError(field, f"must be a local time of day without zone, got {value!r}")
    return value


@dataclass(frozen=True)
class WeeklyWindow:
    """From `start_day` at `start` until `end_day` at `end` (exclusive) every week; days 0 = Monday.

    An end that comes before the start in the week wraps past Sunday (Fri 18:00 to Mon 08:00).
    """

    start_day: int
    start: time
    end_day: int
    end: time

    def __post_init__(self) -> None:
        _weekday(self.start_day, "window.start_day")
        _time(self.start, "window.start")
        _weekday(self.end_day, "window.end_day")
        _time(self.end, "window.end")
        if (self.start_day, self.start) == (self.end_day, self.end):
            raise OnCallConfigError("window.end", "window is empty: it ends where it starts")

    def offsets(self) -> tuple[timedelta, timedelta]:
        """Return (start, end) as wall-clock offsets from Monday 00:00; the end is after the start."""
        start = timedelta(days=self.start_day, hours=self.start.hour, minutes=self.start.minute,
                          seconds=self.start.second, microseconds=self.start.microsecond)
        end = timedelta(days=self.end_day, hours=self.end.hour, minutes=self.end.minute,
                        seconds=self.end.second, microseconds=self.end.microsecond)
        return start, end if end > start else end + WEEK


def daily(start: time, end: time, days: Iterable[int] = range(7)) -> tuple[WeeklyWindow, ...]:
    """Return a window from `start` to `end` on each of `days`; an end not after the start runs overnight."""
    overnight = _time(end, "window.end") <= _time(start, "window.start")
    return tuple(WeeklyWindow(day, start, (day + 1) % 7 if overnight else day, end) for day in days)


def business_hours(start: time = time(9), end: time = time(17)) -> tuple[WeeklyWindow, ...]:
    """Return Monday to Friday windows from `start` to `end`."""
    return daily(start, end, range(MONDAY, SATURDAY))


def weekends() -> tuple[WeeklyWindow, ...]:
    """Return the window from Saturday 00:00 to Monday 00:00."""
    return (WeeklyWindow(SATURDAY, time(0), MONDAY, time(0)),)


@dataclass(frozen=True)
class Restriction:
    """Weekly windows of local wall time in `time_zone`; a restricted layer is on call only inside them."""

    time_zone: str
    windows: tuple[WeeklyWindow, ...]

    def __post_init__(self) -> None:
        zone(self.time_zone, "restriction.time_zone")
        if isinstance(self.windows, WeeklyWindow) or not hasattr(self.windows, "__iter__"):
            raise OnCallConfigError("restriction.windows", f"must be a list of weekly windows, got {self.windows!r}")
        windows = tuple(self.windows)
        if not windows:
            raise OnCallConfigError("restriction.windows", "must hold at least one window")
        for window in windows:
            if not isinstance(window, WeeklyWindow):
                raise OnCallConfigError("restriction.windows", f"malformed window {window!r}")
        object.__setattr__(self, "windows", windows)


def allowed(restriction: Restriction, start: datetime, end: datetime) -> list[Interval]:
    """Return the sorted, disjoint UTC intervals within [start, end) that lie inside the windows."""
    start, end = utc(start, "start"), utc(end, "end")
    if end <= start:
        return []
    tz = zone(restriction.time_zone)
    first = local_date(start, tz)
    monday = first - timedelta(days=first.weekday() + 7)  # a window may begin in the week before
    last = local_date(end, tz)
    found: list[Interval] = []
    while monday <= last:
        week = datetime.combine(monday, time(0))
        for window in restriction.windows:
            s, e = window.offsets()
            for a, b in wall_intervals(week + s, week + e, tz):
                if a < end and b > start:
                    found.append((max(a, start), min(b, end)))
        monday += WEEK
    return merge(found)


def inside(restriction: Restriction, at: datetime) -> bool:
    """Return True if the instant lies inside one of the windows."""
    at = utc(at, "at")
    return bool(allowed(restriction, at, at + timedelta(microseconds=1)))
