"""iCalendar (RFC 5545) feeds of on-call shifts, for a schedule or for a person (pure: returns bytes).

One VEVENT per final shift, times in UTC to the second. A shift's UID is derived from the schedule, the person and
the shift's start, so a refreshed feed updates an event instead of adding a copy. To keep that start
(and so the UID) steady while the feed's window moves, a shift already running at the window's start
is shown from its real start, looking back at most `lookback`; a shift running past the window's end
is cut at the end (its UID stays, its DTEND grows as the window moves).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from services.escalation.domain.oncall.errors import OnCallConfigError, utc
from services.escalation.domain.oncall.people import Person, Shift
from services.escalation.domain.oncall.queries import shifts
from services.escalation.domain.oncall.schedule import Schedule

PRODID = "-//incidents//on-call//EN"
UID_NAMESPACE = uuid.UUID("5d0c6b4e-7f0e-4c1f-9a51-0c2a0e6d4a11")
LOOKBACK = timedelta(days=7)


def feed_shifts(schedule: Schedule, start: datetime, end: datetime, lookback: timedelta = LOOKBACK) -> list[Shift]:
    """Return the shifts a feed of [start, end) shows: shifts(start - lookback, end) that end after start.

    Times are cut to whole seconds (iCalendar's precision); a shift that vanishes by it is left out.
    """
    start, end = utc(start, "start"), utc(end, "end")
    if lookback < timedelta(0):
        raise OnCallConfigError("lookback", f"must not be negative, got {lookback}")
    found = [Shift(s.person, s.start.replace(microsecond=0), s.end.replace(microsecond=0))
             for s in shifts(schedule, start - lookback, end) if s.end > start]
    return [s for s in found if s.start < s.end]


def shift_uid(schedule_id: str, shift: Shift) -> str:
    """Return the stable UID of a shift: the same schedule, person and start always give the same UID."""
    name = f"{schedule_id}\x1f{shift.person}\x1f{shift.start.astimezone(UTC).isoformat()}"
    return f"{uuid.uuid5(UID_NAMESPACE, name)}@oncall.incidents"


def _display(person: str, people: Mapping[str, Person] | None) -> str:
    return people[person].name if people is not None and person in people else person


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    return calendar


def _event(schedule: Schedule, shift: Shift, dtstamp: datetime, people: Mapping[str, Person] | None) -> Event:
    event = Event()
    event.add("uid", shift_uid(schedule.id, shift))
    event.add("dtstamp", dtstamp)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", f"On call: {schedule.team} ({_display(shift.person, people)})")
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["on-call", schedule.id])
    return event


def schedule_calendar(schedule: Schedule, start: datetime, end: datetime, *, dtstamp: datetime,
                      people: Mapping[str, Person] | None = None, lookback: timedelta = LOOKBACK) -> bytes:
    """Return a VCALENDAR with one VEVENT per final shift of the schedule in [start, end)."""
    stamp = utc(dtstamp, "dtstamp")
    calendar = _calendar(f"On call: {schedule.team}")
    for shift in feed_shifts(schedule, start, end, lookback):
        calendar.add_component(_event(schedule, shift, stamp, people))
    return calendar.to_ical()


def person_calendar(schedules: Iterable[Schedule], person: str, start: datetime, end: datetime, *,
                    dtstamp: datetime, people: Mapping[str, Person] | None = None,
                    lookback: timedelta = LOOKBACK) -> bytes:
    """Return a VCALENDAR with one VEVENT per shift the person holds on any of the schedules in [start, end)."""
    stamp = utc(dtstamp, "dtstamp")
    calendar = _calendar(f"On call: {_display(person, people)}")
    events = [(shift.start, schedule.id, schedule, shift) for schedule in schedules
              for shift in feed_shifts(schedule, start, end, lookback) if shift.person == person]
    for _, _, schedule, shift in sorted(events, key=lambda item: (item[0], item[1])):
        calendar.add_component(_event(schedule, shift, stamp, people))
    return calendar.to_ical()
