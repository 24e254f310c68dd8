"""Injectable clocks: the system clock in production, a fake one that tests move by hand."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current aware UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current time in UTC, truncated to milliseconds (what BSON dates keep)."""
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)


class FakeClock:
    """A clock that only moves when told to; for tests that fast-forward instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by delta and return the new time."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to an aware datetime not earlier than now."""
        if when < self._now:
            raise ValueError("time only moves forward")
        self._now = when


async def poll_forever(
    name: str, run_once: Callable[[], Awaitable[object]], wake: asyncio.Event, seconds: float
) -> None:
    """Run run_once when woken or every `seconds`, forever; a failed pass is logged and retried."""
    while True:
        try:
            await run_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            logging.getLogger(__name__).exception("%s pass failed; retrying", name)
        await sleep_or_wake(wake, seconds)


async def sleep_or_wake(wake: asyncio.Event, seconds: float) -> bool:
    """Wait until wake is set or seconds pass; return True if woken (and clear the event)."""
    try:
        await asyncio.wait_for(wake.wait(), timeout=seconds)
    except TimeoutError:
        return False
    wake.clear()
    return True


class FileOffsetClock:
    """The system time plus an offset (seconds) read from a file: e2e tests move a service's time by writing it.

    The file is read at most every `recheck_seconds`; the offset never goes back (time only moves forward),
    and a missing or unreadable file keeps the last offset. Only for tests (settings refuse it elsewhere).
    """

    def __init__(self, path: Path, recheck_seconds: float = 0.2) -> None:
        self._path = path
        self._recheck = recheck_seconds
        self._checked = float("-inf")
        self._offset = 0.0
        self._system = SystemClock()

    def now(self) -> datetime:
        """Return the system time moved forward by the file's offset."""
        moment = time.monotonic()
        if moment - self._checked >= self._recheck:
            self._checked = moment
            try:
                self._offset = max(self._offset, float(self._path.read_text().strip() or 0))
            except (OSError, ValueError):
                pass
        return self._system.now() + timedelta(seconds=self._offset)
