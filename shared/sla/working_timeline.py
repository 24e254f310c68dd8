"""Working time as a running total, so the working time between two instants is one subtraction (pure).

`BusinessCalendar.working_time_between` walks day by day from start to end; ordering a queue of
clocks anchored days or weeks ago repeats that walk for every clock on every page. A timeline
keeps the working time before each local day it has seen (counted from the first day it was asked
about, extended lazily either way), so an instant's place on it costs one time-zone conversion and
a look-up, and the working time between two instants is the difference of their places: exactly
what the calendar answers, in whole microseconds. The one case where the difference is not the
calendar's answer (a daylight-saving fold, where a later instant can read an earlier wall-clock
time) is detected and answered by the calendar itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.sla.calendar import MAX_DAYS_SCANNED, BusinessCalendar

MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOCAL_EPOCH = EPOCH.replace(tzinfo=None)
MAX_DAYS_KEPT = MAX_DAYS_SCANNED * 10
"""Days a timeline spans at most (the calendar's own limit); instants beyond it are answered by the calendar."""


@dataclass(frozen=True)
class Mark:
    """An instant's place: microseconds since the epoch, its local wall-clock time, and working time before it."""

    instant: datetime
    utc_us: int
    local_us: int
    """Local wall-clock microseconds since 1970-01-01 00:00 local (naive), to detect daylight-saving folds."""
    work_us: int | None
    """Working microseconds from the timeline's origin (negative before it); None when out of the timeline's range."""


def utc_us(instant: datetime) -> int:
    """Return an aware instant as whole microseconds since the epoch (differences are exact, as timedelta's)."""
    return (instant - EPOCH) // MICROSECOND


class WorkingTimeline:
    """Working time from a fixed origin for one calendar, each local day's total worked out once."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._before: dict[date, int] = {}
        """Working microseconds from the origin day's start to each known day's start."""
        self._first: date | None = None
        self._last: date | None = None
        self._days: dict[date, tuple[int | None, tuple[datetime, datetime] | None]] = {}
        """Per local day seen: the working microseconds before it and its working hours (None on a day off)."""
        self._day_us = calendar.working_day // MICROSECOND

    def mark(self, instant: datetime) -> Mark:
        """Return the instant's place on the timeline (aware datetimes only, as the calendar requires)."""
        if instant.tzinfo is None:
            raise ValueError("business calendar needs aware datetimes")
        local = instant.astimezone(self.calendar.timezone).replace(tzinfo=None)
        day = local.date()
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._day(day)
        before, hours = known
        if before is None:
            work_us = None
        elif hours is None:
            work_us = before
        else:
            opens, closes = hours
            work_us = before + (min(max(local, opens), closes) - opens) // MICROSECOND
        return Mark(instant, utc_us(instant), (local - LOCAL_EPOCH) // MICROSECOND, work_us)

    def _day(self, day: date) -> tuple[int | None, tuple[datetime, datetime] | None]:
        """Return the working microseconds before a local day and its working hours (None on a day off)."""
        hours = None
        if self.calendar.is_working_day(day):
            hours = (datetime.combine(day, self.calendar.opens), datetime.combine(day, self.calendar.closes))
        return self._before_day(day), hours

    def between_us(self, start: Mark, end: Mark) -> int:
        """Return the working microseconds from start to end, negative if end is earlier (as `clocks.span` counts)."""
        later = end.utc_us >= start.utc_us
        if start.work_us is not None and end.work_us is not None and later == (end.local_us >= start.local_us):
            return end.work_us - start.work_us
        if later:
            return self.calendar.working_time_between(start.instant, end.instant) // MICROSECOND
        return -(self.calendar.working_time_between(end.instant, start.instant) // MICROSECOND)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Return the working time from start to end (negative if end is earlier), as `clocks.span` counts it."""
        return timedelta(microseconds=self.between_us(self.mark(start), self.mark(end)))

    def _before_day(self, day: date) -> int | None:
        """Return the working microseconds from the origin to the start of day, or None if too far from it."""
        known = self._before.get(day)
        if known is not None:
            return known
        if self._first is None or self._last is None:
            self._first = self._last = day
            self._before[day] = 0
            return 0
        if day > self._last:
            if (day - self._first).days > MAX_DAYS_KEPT:
                return None
            while self._last < day:
                worked = self._day_us if self.calendar.is_working_day(self._last) else 0
                following = self._last + timedelta(days=1)
                self._before[following] = self._before[self._last] + worked
                self._last = following
        else:
            if (self._last - day).days > MAX_DAYS_KEPT:
                return None
            while self._first > day:
                previous = self._first - timedelta(days=1)
                worked = self._day_us if self.calendar.is_working_day(previous) else 0
                self._before[previous] = self._before[self._first] - worked
                self._first = previous
        return self._before[day]
