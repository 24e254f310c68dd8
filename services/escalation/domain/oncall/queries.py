"""Who is on call: at an instant, as merged shifts over a range, per person, and where nobody is (pure).

Work grows with the number of shift boundaries in the range, never with its length in minutes: each
layer yields its shifts, and one sweep over all boundaries (layer shifts and overrides) decides who is
on call between two consecutive boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.escalation.domain.oncall.errors import OnCallConfigError, utc
from services.escalation.domain.oncall.intervals import Interval, complement
from services.escalation.domain.oncall.people import Person, Shift
from services.escalation.domain.oncall.restriction import allowed, inside
from services.escalation.domain.oncall.rotation import person_at, rotation_shifts
from services.escalation.domain.oncall.schedule import Layer, Schedule, apply_overrides


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = utc(start, "start"), utc(end, "end")
    if end < start:
        raise OnCallConfigError("end", f"{end.isoformat()} is before the start {start.isoformat()}")
    return start, end


def _known(ids: list[str], people: Mapping[str, Person] | None) -> list[str]:
    if people is not None:
        for person in ids:
            if person not in people:
                raise OnCallConfigError("people", f"{person!r} is on call but not in the directory")
    return ids


def layer_shifts(layer: Layer, start: datetime, end: datetime) -> list[Shift]:
    """Return the layer's own shifts in [start, end): its rotation's, cut to the restriction's windows."""
    start, end = _range(start, end)
    found = rotation_shifts(layer.rotation, start, end)
    if layer.restriction is None or not found:
        return found
    windows = allowed(layer.restriction, start, end)
    cut: list[Shift] = []
    first = 0  # both lists are sorted and disjoint: one pass over each
    for shift in found:
        while first < len(windows) and windows[first][1] <= shift.start:
            first += 1
        n = first
        while n < len(windows) and windows[n][0] < shift.end:
            a, b = max(windows[n][0], shift.start), min(windows[n][1], shift.end)
            if a < b:
                cut.append(Shift(shift.person, a, b))
            n += 1
    return cut


def _layer_person_at(layer: Layer, at: datetime) -> str | None:
    if layer.restriction is not None and not inside(layer.restriction, at):
        return None
    return person_at(layer.rotation, at)


def on_call_at(schedule: Schedule, at: datetime, *, people: Mapping[str, Person] | None = None) -> list[str]:
    """Return the ids on call at an instant after layers and overrides (layer person first, then added people).

    With `people`, raise OnCallConfigError (field `people`) for an id not in that directory.
    """
    at = utc(at, "at")
    layered: list[str] = []
    for layer in reversed(schedule.layers):
        person = _layer_person_at(layer, at)
        if person is not None:
            layered = [person]
            break
    active = [o for o in schedule.overrides if o.start <= at < o.end]
    return _known(apply_overrides(layered, active), people)


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Return the final shifts in [start, end), merged where contiguous for one person, ordered by start then person."""
    start, end = _range(start, end)
    per_layer = [layer_shifts(layer, start, end) for layer in schedule.layers]
    indexed = sorted(((o.start, i, o) for i, o in enumerate(schedule.overrides) if o.start < end and o.end > start),
                     key=lambda item: (item[0], item[1]))
    cuts = {start, end}
    for pieces in per_layer:
        for piece in pieces:
            cuts.update(piece.interval)
    for _, _, override in indexed:
        cuts.update(t for t in (override.start, override.end) if start < t < end)
    bounds = sorted(cuts)
    positions = [0] * len(per_layer)
    pending, active = 0, {}
    opened: dict[str, datetime] = {}
    found: list[Shift] = []
    for lo in bounds[:-1]:
        layered: list[str] = []
        for n, pieces in enumerate(per_layer):
            while positions[n] < len(pieces) and pieces[positions[n]].end <= lo:
                positions[n] += 1
            if positions[n] < len(pieces) and pieces[positions[n]].start <= lo:
                layered = [pieces[positions[n]].person]  # later layers win
        while pending < len(indexed) and indexed[pending][0] <= lo:
            active[indexed[pending][1]] = indexed[pending][2]
            pending += 1
        for key in [k for k, o in active.items() if o.end <= lo]:
            del active[key]
        now_on = apply_overrides(layered, [active[k] for k in sorted(active)])
        for person in [p for p in opened if p not in now_on]:
            found.append(Shift(person, opened.pop(person), lo))
        for person in now_on:
            opened.setdefault(person, lo)
    found += [Shift(person, since, end) for person, since in opened.items()]
    return sorted(found, key=lambda s: (s.start, s.person, s.end))


def shifts_for_person(schedule: Schedule, person: str, start: datetime, end: datetime) -> list[Shift]:
    """Return one person's final shifts in [start, end), in time order."""
    return [shift for shift in shifts(schedule, start, end) if shift.person == person]


def coverage_gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Interval]:
    """Return the (start, end) stretches of [start, end) where nobody is on call, in time order."""
    start, end = _range(start, end)
    return complement((shift.interval for shift in shifts(schedule, start, end)), start, end)
