"""Wall-clock time in IANA zones turned into exact instants, correct across daylight-saving changes (pure).

Everything returned is an aware UTC datetime. Two rules, both exact:
- `wall_instant(w)` is the first instant whose local clock reads `w` or later: an ambiguous time
  (the repeated hour in autumn) is its first occurrence; a time the clock skips (spring) is the
  instant of the jump.
- `wall_intervals(s, e)` is exactly the instants whose local clock reads at least `s` and before `e`,
  so the repeated autumn hour can split it in two and the skipped spring hour shortens it.
Offset changes are found by sampling once a day and bisecting to the second, which finds every change
as long as a zone does not change its offset twice within one day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.escalation.domain.oncall.errors import OnCallConfigError

SECOND, DAY = timedelta(seconds=1), timedelta(days=1)
Interval = tuple[datetime, datetime]


def zone(name: object, field: str = "time_zone") -> ZoneInfo:
    """Return the IANA zone called `name`; raise OnCallConfigError naming `field` if there is none."""
    if not isinstance(name, str) or not name.strip():
        raise OnCallConfigError(field, f"must be an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name)  # ZoneInfo keeps its own cache of loaded zones
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise OnCallConfigError(field, f"unknown time zone {name!r}") from None


def local_date(instant: datetime, tz: tzinfo) -> date:
    """Return the calendar date the local clock shows at an instant."""
    return instant.astimezone(tz).date()


def _offset(instant: datetime, tz: tzinfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _jump(lo: datetime, hi: datetime, tz: tzinfo) -> datetime:
    """Return the first instant in (lo, hi] with hi's offset, given that lo's offset differs (whole seconds)."""
    lo, hi = lo.replace(microsecond=0), hi.replace(microsecond=0) + (SECOND if hi.microsecond else timedelta(0))
    target = _offset(hi, tz)
    while hi - lo > SECOND:
        mid = (lo + (hi - lo) // 2).replace(microsecond=0)
        if _offset(mid, tz) == target:
            hi = mid
        else:
            lo = mid
    return hi


def _offset_changes(lo: datetime, hi: datetime, tz: tzinfo) -> list[datetime]:
    """Return the instants in (lo, hi] where the zone's UTC offset changes."""
    changes: list[datetime] = []
    previous = lo
    while previous < hi:
        following = min(previous + DAY, hi)
        if _offset(previous, tz) != _offset(following, tz):
            changes.append(_jump(previous, following, tz))
        previous = following
    return changes


def wall_instant(wall: datetime, tz: tzinfo) -> datetime:
    """Return the first instant (UTC) at which the local clock reads `wall` (naive) or later."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    other = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # a skipped time: the clock jumps between the two
    return _jump(min(first, other), max(first, other), tz)


def wall_intervals(start: datetime, end: datetime, tz: tzinfo) -> list[Interval]:
    """Return, in order, the UTC intervals of exactly the instants whose local clock is in [start, end)."""
    if end <= start:
        return []
    lo, hi = start.replace(tzinfo=UTC) - DAY, end.replace(tzinfo=UTC) + DAY  # offsets stay within ±1 day
    cuts = [lo, *_offset_changes(lo, hi, tz), hi]
    found: list[Interval] = []
    for piece_start, piece_end in zip(cuts, cuts[1:]):
        offset = _offset(piece_start, tz)
        s = max(piece_start, start.replace(tzinfo=UTC) - offset)
        e = min(piece_end, end.replace(tzinfo=UTC) - offset)
        if s < e:
            if found and found[-1][1] == s:
                s = found.pop()[0]
            found.append((s, e))
    return found
