"""iCalendar feeds: parsed back, they show exactly the shifts the queries return, with stable UIDs."""

from __future__ import annotations

from datetime import UTC, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from services.escalation.domain.oncall import (
    Layer,
    Override,
    Person,
    Restriction,
    Schedule,
    business_hours,
    directory,
    shifts,
    shifts_for_person,
)
from services.escalation.domain.oncall.ical import feed_shifts, person_calendar, schedule_calendar, shift_uid
from tests.oncall_builders import BERLIN, at, instants, rotation, schedule, schedules

STAMP = at(2026, 1, 1, 12)
PEOPLE = directory([Person("ada", "Ada Lovelace", "ada@example.org", "Europe/Berlin"),
                    Person("bob", "Bob Stone", "bob@example.org", "America/New_York")])


def events(feed: bytes) -> list[tuple[str, object, object, str]]:
    """Return (uid, start, end, summary) of each VEVENT of a parsed feed, checking its DTSTAMP."""
    calendar = Calendar.from_ical(feed)
    assert calendar["version"] == "2.0" and calendar["prodid"]
    found = []
    for event in calendar.walk("VEVENT"):
        assert event.decoded("dtstamp") == STAMP
        found.append((str(event["uid"]), event.decoded("dtstart"), event.decoded("dtend"), str(event["summary"])))
    return found


def platform() -> Schedule:
    day = rotation(("ada", "bob"), rotation_id="day", start=at(2026, 1, 5, 9, tz=BERLIN), time_zone="Europe/Berlin")
    office = Layer(rotation(("bob",), rotation_id="office"), Restriction("Europe/Berlin", business_hours(time(12))))
    return schedule(day, office, overrides=[Override.add("ada", at(2026, 1, 7, 20), at(2026, 1, 8, 2))])


def test_schedule_feed_shows_exactly_the_shifts_of_the_range():
    s = platform()
    start, end = at(2026, 1, 5), at(2026, 1, 12)
    expected = shifts(s, start, end)
    found = events(schedule_calendar(s, start, end, dtstamp=STAMP, people=PEOPLE, lookback=timedelta(0)))
    assert [(b, c) for _, b, c, _ in found] == [(x.start, x.end) for x in expected]
    assert [u for u, *_ in found] == [shift_uid(s.id, x) for x in expected]
    assert [t for *_, t in found] == [f"On call: platform ({PEOPLE[x.person].name})" for x in expected]
    assert len({u for u, *_ in found}) == len(found)


def test_a_running_shift_keeps_its_start_and_uid_as_the_window_moves():
    s = platform()
    monday = {uid: start for uid, start, *_ in events(schedule_calendar(s, at(2026, 1, 5), at(2026, 1, 12),
                                                                       dtstamp=STAMP))}
    wednesday = events(schedule_calendar(s, at(2026, 1, 7, 15), at(2026, 1, 14), dtstamp=STAMP))
    uid, start, end, summary = wednesday[0]
    assert (start, end, summary) == (at(2026, 1, 7, 11), at(2026, 1, 7, 16), "On call: platform (bob)")
    assert monday[uid] == start, "the shift running at the new window's start is the same event"
    assert all(monday[u] == b for u, b, *_ in wednesday if u in monday)
    assert len([u for u, *_ in wednesday if u in monday]) >= 5


def test_times_are_cut_to_whole_seconds():
    s = schedule(rotation(("ada", "bob"), start=at(2026, 1, 5, 9) + timedelta(microseconds=500)))
    found = events(schedule_calendar(s, at(2026, 1, 5), at(2026, 1, 7), dtstamp=STAMP, lookback=timedelta(0)))
    assert [(b, c) for _, b, c, _ in found] == [(at(2026, 1, 5, 9), at(2026, 1, 6, 9)),
                                               (at(2026, 1, 6, 9), at(2026, 1, 7))]


def test_person_feed_shows_their_shifts_on_every_schedule():
    s = platform()
    other = Schedule("db", "database", "UTC", (Layer(rotation(("bob", "ada"), rotation_id="db")),))
    start, end = at(2026, 1, 5), at(2026, 1, 9)
    found = events(person_calendar([s, other], "ada", start, end, dtstamp=STAMP, people=PEOPLE, lookback=timedelta(0)))
    expected = sorted([(x.start, "sched", x) for x in shifts_for_person(s, "ada", start, end)] +
                      [(x.start, "db", x) for x in shifts_for_person(other, "ada", start, end)],
                      key=lambda item: (item[0], item[1]))
    assert [(u, b, c) for u, b, c, _ in found] == [(shift_uid(sid, x), x.start, x.end) for _, sid, x in expected]
    assert {t for *_, t in found} == {"On call: platform (Ada Lovelace)", "On call: database (Ada Lovelace)"}


def test_without_a_directory_the_summary_names_the_person_id():
    found = events(schedule_calendar(schedule(rotation(("ada",))), at(2026, 1, 5), at(2026, 1, 6), dtstamp=STAMP))
    assert [t for *_, t in found] == ["On call: platform (ada)"]


@settings(max_examples=60, deadline=None)
@given(s=schedules(whole_seconds=True), start=instants.map(lambda t: t.replace(microsecond=0)), span=st.integers(0, 14 * 86400).map(lambda n: timedelta(seconds=n)),
       lookback=st.sampled_from([timedelta(0), timedelta(days=7)]))
def test_a_parsed_feed_matches_the_shifts_query(s, start, span, lookback):
    end = start + span
    found = events(schedule_calendar(s, start, end, dtstamp=STAMP, lookback=lookback))
    expected = [x for x in shifts(s, start - lookback, end) if x.end > start]
    assert expected == feed_shifts(s, start, end, lookback)
    assert [(u, b, c, t) for u, b, c, t in found] == [
        (shift_uid(s.id, x), x.start, x.end, f"On call: {s.team} ({x.person})") for x in expected]
    assert all(b.tzinfo is not None and b.utcoffset() == timedelta(0) for _, b, *_ in found)
    assert all(b.astimezone(UTC) == b for _, b, *_ in found)
