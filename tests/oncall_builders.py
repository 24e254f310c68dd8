"""Builders and hypothesis strategies for the on-call domain tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from services.escalation.domain.oncall import (
    Layer,
    Membership,
    Override,
    Restriction,
    Rotation,
    Schedule,
    ShiftLength,
    WeeklyWindow,
)

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
H, D = timedelta(hours=1), timedelta(days=1)
PEOPLE = ("ada", "bob", "cy", "dee", "eve", "fay")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham")
# daylight-saving changes of 2026: Berlin 29 Mar / 25 Oct 01:00 UTC, New York 8 Mar 07:00 / 1 Nov 06:00 UTC
DST_CHANGES = (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
               datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),
               datetime(2026, 4, 5, 16, tzinfo=UTC), datetime(2026, 10, 3, 16, tzinfo=UTC))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz=UTC) -> datetime:
    """Return an aware datetime (UTC unless tz is given)."""
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def rotation(participants=("ada", "bob", "cy"), length=None, start=None, handoff=time(9), time_zone="UTC",
             rotation_id="primary", changes=()) -> Rotation:
    """Return a rotation with test defaults: daily hand-off at 09:00 UTC from 5 Jan 2026 09:00."""
    return Rotation(rotation_id, tuple(participants), length or ShiftLength.days(),
                    start or at(2026, 1, 5, 9), handoff, time_zone, tuple(changes))


def schedule(*layers: Layer | Rotation, overrides=(), team="platform", time_zone="UTC") -> Schedule:
    """Return a schedule of the given layers (rotations become unrestricted layers)."""
    built = tuple(layer if isinstance(layer, Layer) else Layer(layer) for layer in layers)
    return Schedule("sched", team, time_zone, built, tuple(overrides))


# -- strategies ---------------------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1),
                        timezones=st.just(UTC))
near_dst = st.builds(lambda base, delta: base + delta, st.sampled_from(DST_CHANGES),
                     st.timedeltas(min_value=-3 * D, max_value=3 * D))
moments = st.one_of(instants, near_dst)
lengths = st.one_of(st.integers(1, 48).map(ShiftLength.hours), st.integers(1, 3).map(ShiftLength.days),
                    st.integers(1, 2).map(ShiftLength.weeks))
handoffs = st.times()
members = st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=5, unique=True).map(tuple)


def _seconds(value, whole: bool):
    """Return a datetime, time or timedelta without its microseconds when `whole` (iCalendar keeps seconds)."""
    if not whole:
        return value
    if isinstance(value, timedelta):
        return value - timedelta(microseconds=value.microseconds)
    return value.replace(microsecond=0)


@st.composite
def rotations(draw, max_changes: int = 2, rotation_id: str = "primary", whole_seconds: bool = False) -> Rotation:
    """Draw a rotation starting in early 2026 with up to `max_changes` membership changes."""
    start = _seconds(draw(st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2026, 3, 1),
                                       timezones=st.just(UTC))), whole_seconds)
    offsets = sorted({_seconds(offset, whole_seconds) for offset in draw(
        st.lists(st.timedeltas(min_value=timedelta(minutes=1), max_value=300 * D), max_size=max_changes))})
    changes = tuple(Membership(start + offset, draw(members)) for offset in offsets)
    return Rotation(rotation_id, draw(members), draw(lengths), start, _seconds(draw(handoffs), whole_seconds),
                    draw(st.sampled_from(ZONES)), changes)


@st.composite
def windows(draw) -> WeeklyWindow:
    """Draw a non-empty weekly window on whole quarter hours."""
    quarter = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
    start_day, start, end_day, end = draw(st.integers(0, 6)), draw(quarter), draw(st.integers(0, 6)), draw(quarter)
    if (start_day, start) == (end_day, end):
        end_day = (end_day + 1) % 7
    return WeeklyWindow(start_day, start, end_day, end)


restrictions = st.builds(Restriction, st.sampled_from(ZONES), st.lists(windows(), min_size=1, max_size=4).map(tuple))


@st.composite
def overrides(draw, whole_seconds: bool = False) -> Override:
    """Draw a replace, add or remove override of up to ten days in 2026."""
    start = _seconds(draw(st.one_of(instants, near_dst)), whole_seconds)
    end = start + _seconds(draw(st.timedeltas(min_value=timedelta(minutes=1), max_value=10 * D)), whole_seconds)
    kind = draw(st.sampled_from(("replace", "add", "remove")))
    person = draw(st.sampled_from(PEOPLE))
    if kind == "replace":
        absent = draw(st.sampled_from([p for p in PEOPLE if p != person]))
        return Override.replace(absent, person, start, end)
    return Override(kind, person, start, end)


@st.composite
def schedules(draw, max_layers: int = 3, whole_seconds: bool = False) -> Schedule:
    """Draw a schedule of 1..max_layers layers (some restricted) and up to five overrides."""
    count = draw(st.integers(1, max_layers))
    layers = tuple(Layer(draw(rotations(rotation_id=f"layer{n}", whole_seconds=whole_seconds)),
                         draw(st.none() | restrictions)) for n in range(count))
    return Schedule("sched", "platform", draw(st.sampled_from(ZONES)), layers,
                    tuple(draw(st.lists(overrides(whole_seconds), max_size=5))))


# -- a team's whole configuration, as the services load it -----------------------------------------------------

SENIOR_YAML = """\
version: 1
people:
  - {id: ada, name: Ada Lovelace, email: ada@example.com, time_zone: Europe/London}
  - {id: bob, name: Bob Stone, email: bob@example.com, time_zone: UTC, slack: senior-engineering-chat}
  - {id: cy, name: Cy Young, email: cy@example.com, time_zone: UTC}
  - {id: dee, name: Dee Lead, email: dee@example.com, time_zone: UTC}
  - {id: eve, name: Eve Cover, email: eve@example.com, time_zone: UTC}
schedules:
  - id: senior
    team: senior-engineering
    time_zone: UTC
    layers:
      - rotation:
          id: daily
          participants: [ada, bob]
          shift: {days: 1}
          start: 2026-01-05T09:00:00Z
          handoff: "09:00"
          time_zone: UTC
policies:
  - team: senior-engineering
    tier: 3
    lead: dee
    repeats: 1
    steps:
      - delay_minutes: 5
        targets: [{schedule: senior}]
      - delay_minutes: 10
        targets: [{person: cy}, {channel: team}]
"""


def senior_file(text: str = SENIOR_YAML, source: str = "oncall.yaml"):
    """Return the parsed on-call file of the senior-engineering team (or of text)."""
    from services.escalation.adapters.oncall_file import parse_oncall

    return parse_oncall(text, source)


def senior_config(text: str = SENIOR_YAML, overrides=()):
    """Return the combined configuration of a file's text, with override models (dicts) stored beside it."""
    from services.escalation.adapters.oncall_models import OnCallDocument
    from services.escalation.service_layer.oncall_catalog import build

    return build(senior_file(text), OnCallDocument(overrides=list(overrides)))
