"""Schedules: layer precedence, restrictions, overrides, and the queries over them."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.domain.oncall import (
    Layer,
    OnCallConfigError,
    Override,
    Person,
    Restriction,
    Schedule,
    ShiftLength,
    WeeklyWindow,
    business_hours,
    coverage_gaps,
    daily,
    directory,
    layer_shifts,
    on_call_at,
    shifts,
    shifts_for_person,
    weekends,
)
from services.escalation.domain.oncall.intervals import merge
from tests.oncall_builders import (
    BERLIN,
    D,
    H,
    at,
    instants,
    moments,
    restrictions,
    rotation,
    rotations,
    schedule,
    schedules,
)


def table(shift_list, tz=None):
    """Return (person, start, end) of each shift, as ISO minutes in tz (UTC by default)."""
    def fmt(t):
        return (t.astimezone(tz) if tz else t).strftime("%m-%d %H:%M")
    return [(s.person, fmt(s.start), fmt(s.end)) for s in shift_list]


def weekly_primary():
    return rotation(("ada", "bob"), length=ShiftLength.weeks(), rotation_id="primary")


def test_a_later_layer_wins_where_it_has_someone_and_the_earlier_one_shows_through_elsewhere():
    nights = Layer(rotation(("cy",), rotation_id="nights"), Restriction("UTC", daily(time(22), time(6))))
    s = schedule(weekly_primary(), nights)
    assert on_call_at(s, at(2026, 1, 6, 12)) == ["ada"]
    assert on_call_at(s, at(2026, 1, 6, 23)) == ["cy"]
    assert table(shifts(s, at(2026, 1, 6, 12), at(2026, 1, 7, 12))) == [
        ("ada", "01-06 12:00", "01-06 22:00"), ("cy", "01-06 22:00", "01-07 06:00"),
        ("ada", "01-07 06:00", "01-07 12:00")]


def test_business_hours_restriction_keeps_berlin_local_hours_across_the_spring_change():
    layer = Layer(rotation(("ada",), start=at(2026, 3, 23, 9, tz=BERLIN), time_zone="Europe/Berlin"),
                  Restriction("Europe/Berlin", business_hours()))
    found = layer_shifts(layer, at(2026, 3, 27), at(2026, 3, 31))
    assert table(found, BERLIN) == [("ada", "03-27 09:00", "03-27 17:00"), ("ada", "03-30 09:00", "03-30 17:00")]
    assert [s.start.utcoffset() for s in found] == [timedelta(0), timedelta(0)]
    assert [s.start.hour for s in found] == [8, 7]  # CET, then CEST


def test_weekend_restriction_covers_saturday_to_monday_only():
    s = schedule(Layer(rotation(("eve",), start=at(2026, 1, 1)), Restriction("UTC", weekends())))
    assert table(shifts(s, at(2026, 1, 5), at(2026, 1, 19))) == [("eve", "01-10 00:00", "01-12 00:00"),
                                                                  ("eve", "01-17 00:00", "01-19 00:00")]
    assert coverage_gaps(s, at(2026, 1, 9), at(2026, 1, 13)) == [(at(2026, 1, 9), at(2026, 1, 10)),
                                                                 (at(2026, 1, 12), at(2026, 1, 13))]


def test_a_window_across_the_autumn_change_counts_the_repeated_hour_only_inside_it():
    window = WeeklyWindow(6, time(2, 30), 6, time(4))  # Sunday 02:30-04:00, Berlin
    layer = Layer(rotation(("ada",), start=at(2026, 10, 1)), Restriction("Europe/Berlin", (window,)))
    found = layer_shifts(layer, at(2026, 10, 24), at(2026, 10, 26))
    assert [(s.start, s.end) for s in found] == [(at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1)),  # 02:30-03:00 CEST
                                                 (at(2026, 10, 25, 1, 30), at(2026, 10, 25, 3))]  # 02:30-04:00 CET


def test_replace_override_puts_the_cover_wherever_the_absent_person_would_be():
    cover = Override.replace("bob", "eve", at(2026, 1, 5), at(2026, 1, 8))
    s = schedule(rotation(("ada", "bob", "cy")), overrides=[cover])
    assert table(shifts(s, at(2026, 1, 5, 9), at(2026, 1, 9, 9))) == [
        ("ada", "01-05 09:00", "01-06 09:00"), ("eve", "01-06 09:00", "01-07 09:00"),
        ("cy", "01-07 09:00", "01-08 09:00"), ("ada", "01-08 09:00", "01-09 09:00")]


def test_add_override_puts_someone_on_call_in_addition():
    s = schedule(rotation(("ada", "bob")), overrides=[Override.add("eve", at(2026, 1, 5, 12), at(2026, 1, 5, 14))])
    assert on_call_at(s, at(2026, 1, 5, 13)) == ["ada", "eve"]
    assert on_call_at(s, at(2026, 1, 5, 14)) == ["ada"]
    assert table(shifts_for_person(s, "eve", at(2026, 1, 5), at(2026, 1, 6))) == [("eve", "01-05 12:00", "01-05 14:00")]
    assert table(shifts(s, at(2026, 1, 5, 9), at(2026, 1, 6, 9))) == [
        ("ada", "01-05 09:00", "01-06 09:00"), ("eve", "01-05 12:00", "01-05 14:00")]


def test_remove_override_leaves_a_gap_that_coverage_gaps_reports():
    s = schedule(rotation(("ada", "bob")), overrides=[Override.remove("ada", at(2026, 1, 5, 12), at(2026, 1, 5, 14))])
    assert on_call_at(s, at(2026, 1, 5, 13)) == []
    assert coverage_gaps(s, at(2026, 1, 5, 9), at(2026, 1, 6, 9)) == [(at(2026, 1, 5, 12), at(2026, 1, 5, 14))]


def test_override_kinds_apply_replace_then_remove_then_add():
    window = (at(2026, 1, 5, 10), at(2026, 1, 5, 11))
    s = schedule(rotation(("ada", "bob")), overrides=[
        Override.add("bob", *window), Override.remove("eve", *window), Override.replace("ada", "eve", *window)])
    assert on_call_at(s, at(2026, 1, 5, 10, 30)) == ["bob"]


def test_shifts_merge_contiguous_time_of_one_person():
    s = schedule(rotation(("ada",)))
    assert table(shifts(s, at(2026, 1, 5), at(2026, 1, 12))) == [("ada", "01-05 09:00", "01-12 00:00")]
    assert coverage_gaps(s, at(2026, 1, 5), at(2026, 1, 12)) == [(at(2026, 1, 5), at(2026, 1, 5, 9))]


def test_shifts_for_person_returns_only_theirs():
    s = schedule(rotation(("ada", "bob")))
    assert table(shifts_for_person(s, "bob", at(2026, 1, 5), at(2026, 1, 10))) == [
        ("bob", "01-06 09:00", "01-07 09:00"), ("bob", "01-08 09:00", "01-09 09:00")]
    assert shifts_for_person(s, "nobody", at(2026, 1, 5), at(2026, 1, 10)) == []


def test_on_call_at_checks_ids_against_a_directory_when_given():
    ada = Person("ada", "Ada Lovelace", "ada@example.org", "Europe/London")
    s = schedule(rotation(("ada", "bob")))
    assert on_call_at(s, at(2026, 1, 5, 10), people=directory([ada])) == ["ada"]
    with pytest.raises(OnCallConfigError) as err:
        on_call_at(s, at(2026, 1, 6, 10), people=directory([ada]))
    assert err.value.field == "people" and "'bob'" in str(err.value)


def test_a_year_of_hourly_shifts_is_walked_by_boundaries():
    weekly = rotation(("ada", "bob"), length=ShiftLength.weeks(), start=at(2026, 1, 1), rotation_id="weekly")
    hourly = Layer(rotation(("cy", "dee", "eve"), length=ShiftLength.hours(1), start=at(2026, 1, 1),
                            rotation_id="hourly"), Restriction("Europe/Berlin", business_hours()))
    s = schedule(weekly, hourly, overrides=[Override.add("fay", at(2026, 6, 1), at(2026, 6, 8))])
    year = (at(2026, 1, 1), at(2027, 1, 1))
    assert len(layer_shifts(hourly, *year)) == 261 * 8  # every working hour of 2026, Berlin time
    found = shifts(s, *year)
    assert sum((x.end - x.start for x in found), timedelta(0)) == 365 * D + 7 * D
    assert coverage_gaps(s, *year) == []
    assert {x.start.astimezone(BERLIN).hour for x in found if x.person in ("cy", "dee", "eve")} == set(range(9, 17))


def test_a_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(OnCallConfigError) as err:
        shifts(schedule(rotation()), at(2026, 1, 2), at(2026, 1, 1))
    assert err.value.field == "end"


# -- properties ------------------------------------------------------------------------------------------------

def wall_inside(restriction: Restriction, instant) -> bool:
    """Return True if the instant's local wall time (computed independently) lies in one of the windows."""
    local = instant.astimezone(ZoneInfo(restriction.time_zone))
    x = timedelta(days=local.weekday(), hours=local.hour, minutes=local.minute, seconds=local.second,
                  microseconds=local.microsecond)
    for w in restriction.windows:
        s = timedelta(days=w.start_day, hours=w.start.hour, minutes=w.start.minute)
        e = timedelta(days=w.end_day, hours=w.end.hour, minutes=w.end.minute)
        e = e if e > s else e + 7 * D
        if s <= x < e or s <= x + 7 * D < e:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(restriction=restrictions, r=rotations(max_changes=1), start=moments, span=st.timedeltas(H, 21 * D),
       probes=st.lists(moments, max_size=6))
def test_a_restriction_window_never_leaks_and_covers_its_whole_window(restriction, r, start, span, probes):
    layer = Layer(r, restriction)
    found = layer_shifts(layer, start, start + span)
    edges = [t for s in found for t in (s.start, s.end - timedelta(microseconds=1))]
    for s in found:
        assert wall_inside(restriction, s.start) and wall_inside(restriction, s.end - timedelta(microseconds=1))
    for instant in [*edges, *probes, *(s.end for s in found)]:
        on = on_call_at(schedule(layer), instant)
        assert bool(on) == (wall_inside(restriction, instant) and instant >= r.start)


@settings(max_examples=150, deadline=None)
@given(s=schedules(), probes=st.lists(moments, min_size=1, max_size=8))
def test_overrides_win_over_layers(s, probes):
    bare = Schedule(s.id, s.team, s.time_zone, s.layers)
    probes += [t for o in s.overrides for t in (o.start, o.end - timedelta(microseconds=1))]
    for instant in probes:
        result, layered = on_call_at(s, instant), on_call_at(bare, instant)
        active = [o for o in s.overrides if o.start <= instant < o.end]
        added = {o.person for o in active if o.kind == "add"}
        covering = {o.person for o in active if o.kind == "replace"}
        if not active:
            assert result == layered
        assert set(result) <= set(layered) | added | covering
        for o in active:
            if o.kind == "add":
                assert o.person in result
            elif o.kind == "remove" and o.person not in added:
                assert o.person not in result
            elif o.kind == "replace" and o.instead_of not in added | covering:
                assert o.instead_of not in result


@settings(max_examples=150, deadline=None)
@given(s=schedules(), start=st.one_of(instants, moments), span=st.timedeltas(timedelta(0), 20 * D),
       probes=st.lists(st.floats(0, 1), max_size=6))
def test_coverage_gaps_are_exactly_the_complement_of_the_shifts(s, start, span, probes):
    end = start + span
    found, gaps = shifts(s, start, end), coverage_gaps(s, start, end)
    covered = merge(x.interval for x in found)
    assert merge([*covered, *gaps]) == ([(start, end)] if span else [])
    assert all(not (g0 < x.end and x.start < g1) for g0, g1 in gaps for x in found)
    assert all(a[1] < b[0] for a, b in zip(gaps, gaps[1:])), "gaps are maximal"
    for person in {x.person for x in found}:
        mine = [x for x in found if x.person == person]
        assert all(a.end < b.start for a, b in zip(mine, mine[1:])), "one person's shifts are merged"
    instants = [start + span * p for p in probes] + [x.start for x in found] + [g[0] for g in gaps]
    for instant in (t for t in instants if start <= t < end):
        expected = {x.person for x in found if x.start <= instant < x.end}
        assert set(on_call_at(s, instant)) == expected
        assert (not expected) == any(g0 <= instant < g1 for g0, g1 in gaps)
