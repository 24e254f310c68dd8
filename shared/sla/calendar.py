"""A business calendar: working hours in a time zone, weekends and holidays (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS_SCANNED = 3660
"""No sane calendar goes ten years without a working day; a longer scan means a broken config."""


@dataclass(frozen=True)
class BusinessCalendar:
    """When work happens: `opens`-`closes` local time on days that are neither weekend nor holiday."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    weekend: frozenset[int] = frozenset({5, 6})
    """Weekday numbers (Monday 0 ... Sunday 6) that are never working days."""
    holidays: Container[date] = frozenset()
    """Dates that are never working days, e.g. a `holidays.HolidayBase` or a set of dates."""

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError(f"working hours must open before they close, got {self.opens}-{self.closes}")
        if len(set(self.weekend)) >= 7 or not set(self.weekend) <= set(range(7)):
            raise ValueError("the weekend must be a set of weekday numbers 0-6 leaving at least one working day")

    @property
    def working_day(self) -> timedelta:
        """Return the length of one working day (one 'business day' of SLA time)."""
        return _at(date(2000, 1, 3), self.closes) - _at(date(2000, 1, 3), self.opens)

    def is_working_day(self, day: date) -> bool:
        """Return True if `day` is neither a weekend day nor a holiday."""
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """Return the UTC instant after `duration` of working time from `start`; always within working hours."""
        if duration < timedelta(0):
            raise ValueError("working time to add must not be negative")
        local = self._local(start)
        remaining = duration
        for _ in range(MAX_DAYS_SCANNED):
            day = local.date()
            opens, closes = _at(day, self.opens), _at(day, self.closes)
            if self.is_working_day(day) and local < closes:
                current = max(local, opens)
                available = closes - current
                if remaining <= available:
                    return self._utc(current + remaining)
                remaining -= available
            local = _at(day + timedelta(days=1), self.opens)
        raise ValueError(f"no working time found within {MAX_DAYS_SCANNED} days of {start.isoformat()}")

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Return the UTC instant `days` working days of working time after `start`."""
        return self.add_working_time(start, self.working_day * days)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Return how much working time lies between two instants (zero if end is not after start)."""
        if end <= start:
            return timedelta(0)
        local, stop = self._local(start), self._local(end)
        total = timedelta(0)
        for _ in range(MAX_DAYS_SCANNED * 10):
            day = local.date()
            if day > stop.date():
                return total
            if self.is_working_day(day):
                lower = max(local, _at(day, self.opens))
                upper = min(stop, _at(day, self.closes))
                if upper > lower:
                    total += upper - lower
            local = _at(day + timedelta(days=1), self.opens)
        raise ValueError("interval too long to measure in working time")

    def _local(self, instant: datetime) -> datetime:
        """Return the naive local wall-clock time of an aware instant."""
        if instant.tzinfo is None:
            raise ValueError("business calendar needs aware datetimes")
        return instant.astimezone(self.timezone).replace(tzinfo=None)

    def _utc(self, local: datetime) -> datetime:
        """Return the aware UTC instant of a naive local wall-clock time."""
        return local.replace(tzinfo=self.timezone).astimezone(UTC)


def _at(day: date, clock: time) -> datetime:
    """Return the naive datetime of a local wall-clock time on a day."""
    return datetime.combine(day, clock)
