"""Rotations: turn order, hour/day/week shifts, hand-offs across daylight-saving changes, membership changes."""

from __future__ import annotations

from datetime import UTC, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.domain.oncall import Membership, ShiftLength, change_participants, on_call_at
from services.escalation.domain.oncall.rotation import person_at, rotation_shifts
from tests.oncall_builders import (
    BERLIN,
    NEW_YORK,
    PEOPLE,
    D,
    H,
    at,
    members,
    moments,
    rotation,
    rotations,
    schedule,
)


def who(shift_list, tz=UTC):
    """Return (person, local start, hours) of each shift."""
    return [(s.person, s.start.astimezone(tz).strftime("%m-%d %H:%M"), (s.end - s.start) / H) for s in shift_list]


def test_daily_rotation_takes_turns_in_order_from_the_start():
    r = rotation(("ada", "bob", "cy"))
    assert who(rotation_shifts(r, at(2026, 1, 5), at(2026, 1, 10))) == [
        ("ada", "01-05 09:00", 24), ("bob", "01-06 09:00", 24), ("cy", "01-07 09:00", 24),
        ("ada", "01-08 09:00", 24), ("bob", "01-09 09:00", 15)]


def test_nobody_is_on_call_before_the_rotation_starts():
    r = rotation()
    assert person_at(r, at(2026, 1, 5, 8, 59)) is None
    assert person_at(r, at(2026, 1, 5, 9)) == "ada"


def test_first_turn_runs_until_the_first_local_hand_off():
    r = rotation(start=at(2026, 1, 5, 15), length=ShiftLength.weeks())
    first, second = rotation_shifts(r, at(2026, 1, 1), at(2026, 1, 13))
    assert (first.person, first.start, first.end) == ("ada", at(2026, 1, 5, 15), at(2026, 1, 12, 9))
    assert (second.person, second.start) == ("bob", at(2026, 1, 12, 9))


def test_hour_shifts_are_fixed_durations_from_the_start():
    r = rotation(("ada", "bob"), length=ShiftLength.hours(12), start=at(2026, 3, 28, 20, tz=BERLIN),
                 time_zone="Europe/Berlin")
    found = rotation_shifts(r, at(2026, 3, 28), at(2026, 3, 30, 7))
    assert [(s.end - s.start) / H for s in found] == [12, 12, 12]  # across the spring change
    assert who(found, BERLIN) == [("ada", "03-28 20:00", 12), ("bob", "03-29 09:00", 12), ("ada", "03-29 21:00", 12)]


def test_day_shifts_keep_the_local_hand_off_across_both_berlin_changes():
    r = rotation(("ada", "bob"), start=at(2026, 3, 27, 9, tz=BERLIN), time_zone="Europe/Berlin")
    assert who(rotation_shifts(r, at(2026, 3, 27, 8), at(2026, 3, 30, 7)), BERLIN) == [
        ("ada", "03-27 09:00", 24), ("bob", "03-28 09:00", 23), ("ada", "03-29 09:00", 24)]
    autumn = rotation(("ada", "bob"), start=at(2026, 10, 23, 9, tz=BERLIN), time_zone="Europe/Berlin")
    assert who(rotation_shifts(autumn, at(2026, 10, 23, 7), at(2026, 10, 26, 8)), BERLIN) == [
        ("ada", "10-23 09:00", 24), ("bob", "10-24 09:00", 25), ("ada", "10-25 09:00", 24)]


def test_week_shifts_keep_the_local_hand_off_in_new_york():
    r = rotation(("ada", "bob"), length=ShiftLength.weeks(), start=at(2026, 3, 2, 9, tz=NEW_YORK),
                 time_zone="America/New_York")
    assert who(rotation_shifts(r, at(2026, 3, 2, 14), at(2026, 3, 16, 13)), NEW_YORK) == [
        ("ada", "03-02 09:00", 7 * 24 - 1), ("bob", "03-09 09:00", 7 * 24)]


def test_a_hand_off_time_the_clock_skips_happens_when_the_clock_jumps():
    r = rotation(("ada", "bob"), start=at(2026, 3, 28, 2, 30, tz=BERLIN), handoff=time(2, 30),
                 time_zone="Europe/Berlin")
    first, second, third = rotation_shifts(r, at(2026, 3, 28), at(2026, 3, 30, 1))
    assert second.start == at(2026, 3, 29, 1)  # 02:00 CET became 03:00 CEST
    assert third.start.astimezone(BERLIN).time() == time(2, 30)


def test_a_long_range_is_computed_from_the_range_not_from_the_start():
    r = rotation(tuple(PEOPLE), length=ShiftLength.hours(1), start=at(2020, 1, 1))
    found = rotation_shifts(r, at(2026, 6, 1), at(2026, 6, 1, 3))
    assert [s.person for s in found] == [PEOPLE[(n + 55_488) % 6] for n in range(3)]  # 55 488 hours later


def test_adding_someone_keeps_the_current_person_and_continues_the_order_after_them():
    r = rotation(("ada", "bob", "cy"))
    changed = change_participants(r, ("ada", "bob", "dee", "cy"), at(2026, 1, 6, 15))  # during bob's turn
    assert who(rotation_shifts(changed, at(2026, 1, 6, 9), at(2026, 1, 11, 9))) == [
        ("bob", "01-06 09:00", 24), ("dee", "01-07 09:00", 24), ("cy", "01-08 09:00", 24),
        ("ada", "01-09 09:00", 24), ("bob", "01-10 09:00", 24)]


def test_removing_the_person_on_call_hands_over_at_once_to_who_was_next():
    r = rotation(("ada", "bob", "cy"))
    changed = change_participants(r, ("ada", "cy"), at(2026, 1, 6, 15))
    assert who(rotation_shifts(changed, at(2026, 1, 6, 9), at(2026, 1, 9, 9))) == [
        ("bob", "01-06 09:00", 6), ("cy", "01-06 15:00", 18), ("ada", "01-07 09:00", 24), ("cy", "01-08 09:00", 24)]


def test_a_change_at_a_hand_off_lets_the_person_due_start_their_turn():
    changed = change_participants(rotation(("ada", "bob", "cy")), ("cy", "bob", "ada"), at(2026, 1, 6, 9))
    assert [s.person for s in rotation_shifts(changed, at(2026, 1, 5, 9), at(2026, 1, 9, 9))] == [
        "ada", "bob", "ada", "cy"]


def test_a_whole_new_team_starts_from_its_first_member():
    changed = change_participants(rotation(("ada", "bob")), ("eve", "fay"), at(2026, 1, 6, 15))
    assert [s.person for s in rotation_shifts(changed, at(2026, 1, 6, 9), at(2026, 1, 8, 9))] == ["bob", "eve", "fay"]


# -- properties ------------------------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(r=rotations(), instants=st.lists(moments, min_size=1, max_size=8))
def test_exactly_one_person_is_on_call_at_every_instant_after_the_start(r, instants):
    s = schedule(r)
    for instant in instants:
        people = on_call_at(s, instant)
        assert len(people) == (1 if instant >= r.start else 0)
        if people:
            assert people[0] == person_at(r, instant)


@settings(max_examples=100, deadline=None)
@given(r=rotations(), span=st.timedeltas(min_value=H, max_value=60 * D), offset=st.timedeltas(max_value=200 * D,
                                                                                             min_value=-D))
def test_rotation_shifts_tile_the_range_without_gaps_or_overlaps(r, span, offset):
    start = r.start + offset
    found = rotation_shifts(r, start, start + span)
    assert found and found[0].start == max(start, r.start) and found[-1].end == start + span
    assert all(a.end == b.start for a, b in zip(found, found[1:]))
    assert all(s.start < s.end for s in found)


@settings(max_examples=100, deadline=None)
@given(change=st.sampled_from([(BERLIN, 3, 29), (BERLIN, 10, 25), (NEW_YORK, 3, 8), (NEW_YORK, 11, 1)]),
       hour=st.integers(0, 23).filter(lambda h: h != 2), minute=st.integers(0, 59), days=st.integers(1, 3),
       weekly=st.booleans(), lead_in=st.integers(1, 20))
def test_a_rotation_across_a_dst_change_keeps_its_local_hand_off_time(change, hour, minute, days, weekly, lead_in):
    """Last Sunday of March / October in Berlin; second Sunday of March / first of November in New York (2026)."""
    zone, month, day = change
    handoff = time(hour, minute)
    start = at(2026, month, day, hour, minute, tz=zone) - timedelta(days=lead_in)
    length = ShiftLength.weeks(1) if weekly else ShiftLength.days(days)
    r = rotation(("ada", "bob", "cy"), length=length, start=start, handoff=handoff, time_zone=zone.key)
    found = rotation_shifts(r, start, start + 30 * D)
    nominal = timedelta(days=7 if weekly else days)
    for shift in found[1:]:
        assert shift.start.astimezone(zone).time() == handoff
    for shift in found[:-1]:
        local_start, local_end = shift.start.astimezone(zone), shift.end.astimezone(zone)
        assert shift.end - shift.start == nominal + local_start.utcoffset() - local_end.utcoffset()
    assert any((s.end - s.start) != nominal for s in found[:-1]), "the range crosses a change"


@settings(max_examples=150, deadline=None)
@given(r=rotations(), when=st.timedeltas(min_value=timedelta(minutes=1), max_value=120 * D), new=members,
       probes=st.lists(st.timedeltas(min_value=-D, max_value=400 * D), min_size=1, max_size=6))
def test_changing_participants_never_reshuffles_earlier_shifts(r, when, new, probes):
    effective = (r.changes[-1].effective_at if r.changes else r.start) + when
    changed = change_participants(r, new, effective)
    assert changed.changes[-1] == Membership(effective, new)
    assert rotation_shifts(changed, r.start - D, effective) == rotation_shifts(r, r.start - D, effective)
    for probe in probes:
        instant = r.start + probe
        if instant < effective:
            assert person_at(changed, instant) == person_at(r, instant)
        else:
            assert person_at(changed, instant) in new
