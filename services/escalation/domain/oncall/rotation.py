"""Rotations: participants taking turns in shifts of fixed hours or of local days/weeks (pure).

Turn 0 runs from the rotation's `start`; turn n >= 1 begins at hand-off n. Hour shifts hand off every
`count` hours after start, a fixed duration. Day and week shifts hand off at the local `handoff` time
in `time_zone` on the local dates start-date + n * length, so they keep 09:00 across daylight-saving
changes (a day is then 23 or 25 hours long); turn 0 is whatever is left until the first hand-off.

Membership is effective-dated: each `Membership` change applies from its instant on and never alters
an earlier instant. At a change the person on call under the old list stays on for the rest of the turn
if still a participant, and the new order continues after them; if they were removed, the next person
of the old order who remains takes over at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import NamedTuple

from services.escalation.domain.oncall.errors import OnCallConfigError, require_ids, require_int, require_text, utc
from services.escalation.domain.oncall.people import Shift
from services.escalation.domain.oncall.tzmath import local_date, wall_instant, zone

HOURS, DAYS, WEEKS = "hours", "days", "weeks"


@dataclass(frozen=True)
class ShiftLength:
    """How long a turn lasts: `count` hours (fixed duration), or `count` local days or weeks."""

    kind: str
    count: int = 1

    def __post_init__(self) -> None:
        if self.kind not in (HOURS, DAYS, WEEKS):
            raise OnCallConfigError("length.kind", f"must be one of hours, days, weeks; got {self.kind!r}")
        require_int(self.count, "length.count", 1)

    @classmethod
    def hours(cls, count: int) -> ShiftLength:
        """Return a shift of `count` hours (any custom number of hours)."""
        return cls(HOURS, count)

    @classmethod
    def days(cls, count: int = 1) -> ShiftLength:
        """Return a shift of `count` local days."""
        return cls(DAYS, count)

    @classmethod
    def weeks(cls, count: int = 1) -> ShiftLength:
        """Return a shift of `count` local weeks."""
        return cls(WEEKS, count)


@dataclass(frozen=True)
class Membership:
    """From `effective_at` on, these participants take turns in this order."""

    effective_at: datetime
    participants: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_at", utc(self.effective_at, "changes.effective_at"))
        object.__setattr__(self, "participants", require_ids(self.participants, "changes.participants"))


@dataclass(frozen=True)
class Rotation:
    """Participants taking turns from `start`, handing off at `handoff` local time in `time_zone`."""

    id: str
    participants: tuple[str, ...]
    length: ShiftLength
    start: datetime
    handoff: time = time(9, 0)
    time_zone: str = "UTC"
    changes: tuple[Membership, ...] = field(default=())

    def __post_init__(self) -> None:
        require_text(self.id, "rotation.id")
        object.__setattr__(self, "participants", require_ids(self.participants, "rotation.participants"))
        if not isinstance(self.length, ShiftLength):
            raise OnCallConfigError("rotation.length", f"must be a ShiftLength, got {self.length!r}")
        object.__setattr__(self, "start", utc(self.start, "rotation.start"))
        if not isinstance(self.handoff, time) or self.handoff.tzinfo is not None:
            raise OnCallConfigError("rotation.handoff",
                                    f"must be a local time of day without zone, got {self.handoff!r}")
        zone(self.time_zone, "rotation.time_zone")
        changes = tuple(self.changes)
        previous = self.start
        for change in changes:
            if not isinstance(change, Membership):
                raise OnCallConfigError("rotation.changes", f"must hold Membership changes, got {change!r}")
            if change.effective_at <= previous:
                raise OnCallConfigError("rotation.changes", f"memberships overlap: a change at "
                                        f"{change.effective_at.isoformat()} is not after {previous.isoformat()}")
            previous = change.effective_at
        object.__setattr__(self, "changes", changes)


def change_participants(rotation: Rotation, participants: tuple[str, ...] | list[str],
                        effective_at: datetime) -> Rotation:
    """Return the rotation with a new participant list from `effective_at` on; earlier shifts stay as they were."""
    return Rotation(rotation.id, rotation.participants, rotation.length, rotation.start, rotation.handoff,
                    rotation.time_zone, (*rotation.changes, Membership(effective_at, tuple(participants))))


def boundary(rotation: Rotation, turn: int) -> datetime:
    """Return when a turn begins (UTC): the start for turn 0, else its hand-off."""
    length = rotation.length
    if turn == 0:
        return rotation.start
    if length.kind == HOURS:
        return rotation.start + timedelta(hours=turn * length.count)
    tz = zone(rotation.time_zone)
    days = length.count * (7 if length.kind == WEEKS else 1)
    first_day = local_date(rotation.start, tz)
    return wall_instant(datetime.combine(first_day + timedelta(days=turn * days), rotation.handoff), tz)


def turn_at(rotation: Rotation, at: datetime) -> int:
    """Return the turn in progress at an instant not before the start (O(1): no walking from the start)."""
    length = rotation.length
    if length.kind == HOURS:
        return (at - rotation.start) // timedelta(hours=length.count)
    tz = zone(rotation.time_zone)
    days = length.count * (7 if length.kind == WEEKS else 1)
    turn = max((local_date(at, tz) - local_date(rotation.start, tz)).days // days - 1, 0)
    while boundary(rotation, turn + 1) <= at:
        turn += 1
    while turn > 0 and boundary(rotation, turn) > at:
        turn -= 1
    return turn


class _Version(NamedTuple):
    at: datetime
    turn: int
    base: int
    participants: tuple[str, ...]

    def person(self, turn: int) -> str:
        return self.participants[(self.base + turn - self.turn) % len(self.participants)]


def _versions(rotation: Rotation) -> list[_Version]:
    """Return each membership with the turn it starts in and whose turn that is (depends only on earlier ones)."""
    versions = [_Version(rotation.start, 0, 0, rotation.participants)]
    for change in rotation.changes:
        before = versions[-1]
        turn = turn_at(rotation, change.effective_at)
        current = before.person(turn)
        order = before.participants
        index = order.index(current)
        successors = [order[(index + k) % len(order)] for k in range(len(order))]
        staying = next((p for p in successors if p in change.participants), None)
        base = change.participants.index(staying) if staying is not None else 0
        versions.append(_Version(change.effective_at, turn, base, change.participants))
    return versions


def person_at(rotation: Rotation, at: datetime) -> str | None:
    """Return who the rotation has on call at an instant, or None before it starts."""
    at = utc(at, "at")
    if at < rotation.start:
        return None
    version = [v for v in _versions(rotation) if v.at <= at][-1]
    return version.person(turn_at(rotation, at))


def rotation_shifts(rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """Return the shifts clipped to [start, end), one per turn (split where a membership change swaps who)."""
    start, end = utc(start, "start"), utc(end, "end")
    lo = max(start, rotation.start)
    if lo >= end:
        return []
    versions = _versions(rotation)
    v = 0
    turn = turn_at(rotation, lo)
    turn_start = boundary(rotation, turn)
    found: list[Shift] = []
    while turn_start < end:
        turn_end = boundary(rotation, turn + 1)
        cursor, stop = max(turn_start, lo), min(turn_end, end)
        first_piece = True
        while cursor < stop:
            while v + 1 < len(versions) and versions[v + 1].at <= cursor:
                v += 1
            piece_end = min(stop, versions[v + 1].at) if v + 1 < len(versions) else stop
            person = versions[v].person(turn)
            if not first_piece and found[-1].person == person:
                found[-1] = Shift(person, found[-1].start, piece_end)
            else:
                found.append(Shift(person, cursor, piece_end))
            cursor, first_piece = piece_end, False
        turn, turn_start = turn + 1, turn_end
    return found
