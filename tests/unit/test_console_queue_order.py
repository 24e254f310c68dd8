"""The queue ranked and counted from prepared entries (and a working timeline) equals the straightforward computation.

The straightforward computation is written out here as the oracle: every matching entry's
`standing` at now, sorted by (group, key, id), and per criterion a count over the entries that pass
the other criteria. Entries, filters and instants are generated (fake clock moved by hand), over
calendars with holidays, other time zones and a daylight-saving fold inside working hours.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.domain.queue import (
    FACETS,
    Me,
    QueueFilter,
    admits,
    build_queue,
    facet_value,
    prepare,
    standing,
)
from services.intake.service_layer.open_queue import OpenQueue
from shared.clock import FakeClock
from shared.contracts import Status
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import new_clock, pause, remaining_at, span
from shared.sla.working_timeline import WorkingTimeline

START = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)  # a Friday, two days before Europe's clocks go forward
CALENDARS = [
    BusinessCalendar(),
    BusinessCalendar(timezone=ZoneInfo("Europe/Berlin"), opens=time(8, 30), closes=time(16, 45),
                     holidays=holidays.country_holidays("DE", subdiv="BY")),
    BusinessCalendar(timezone=ZoneInfo("America/New_York"), opens=time(0, 0), closes=time(23, 59),
                     holidays=holidays.country_holidays("US")),
    BusinessCalendar(timezone=ZoneInfo("America/New_York"), opens=time(0, 0), closes=time(23, 59), weekend=frozenset()),
]
ME = Me(name="Ann Agent", email="ann@support.example.com")


def oracle(entries, wanted, me, now, calendar, at_risk, limit, since):
    """Return (rows as (id, standing), matched, total, counts, new_since, newest) the straightforward way."""
    open_entries = [e for e in entries if e.get("status") != Status.CLOSED]
    matched = [e for e in open_entries if admits(wanted, e, me)]
    ranked = sorted(((standing(e, now, calendar, at_risk), e) for e in matched),
                    key=lambda pair: (pair[0].group, pair[0].key, pair[1]["id"]))
    counts = {}
    for name in FACETS:
        tally = Counter(facet_value(e, name, me) for e in open_entries if admits(wanted.without(name), e, me))
        counts[name] = {str(value): n for value, n in tally.items() if value is not None}
    return ([(e["id"], s) for s, e in ranked[:limit]], len(matched), len(open_entries), counts,
            sum(1 for e in matched if since is not None and e["id"] > since),
            max((e["id"] for e in open_entries), default=None))


def result(view):
    return ([(r.entry["id"], r.standing) for r in view.rows], view.matched, view.total, view.counts, view.new_since,
            view.newest_id)


instants = st.integers(min_value=-40 * 86400, max_value=40 * 86400).map(lambda s: START + timedelta(seconds=s))


@st.composite
def clocks(draw):
    state = draw(st.sampled_from(["running", "running", "paused", "stopped"]))
    anchor = draw(instants)
    remaining = draw(st.floats(min_value=-5 * 86400, max_value=12 * 86400, allow_nan=False))
    return {"state": state, "business": draw(st.booleans()), "anchor_at": anchor,
            "remaining_seconds": round(remaining, draw(st.sampled_from([0, 3]))),
            "budget_seconds": draw(st.sampled_from([0.0, 900.0, 3600.0, 28800.0, 5 * 86400.0])),
            "due_at": draw(st.none() | instants), "gen": 0}


@st.composite
def entries(draw, n):
    status = draw(st.sampled_from(["open", "in_progress", "waiting_for_info", "on_hold", "resolved", "closed"]))
    targets = draw(st.lists(st.sampled_from(["response", "resolution", "handoff"]), unique=True, max_size=3))
    entry = {"id": f"01J{n:023d}", "number": f"INC-{n:06d}", "status": status,
             "title": draw(st.sampled_from(["Checkout is slow", "Export fails", "Export of invoices slow", ""])),
             "severity": draw(st.sampled_from(["critical", "high", "medium", "low", None])),
             "tier": draw(st.sampled_from([1, 2, 3, None])), "team": draw(st.sampled_from(["desk", "eng", None])),
             "type": draw(st.sampled_from(["data", "access"])), "kind": "incident",
             "assignee": draw(st.sampled_from([None, "", "ann@support.example.com", " ANN AGENT ", "Bob"])),
             "created_at": draw(st.none() | instants), "clocks": {t: draw(clocks()) for t in targets}}
    if draw(st.booleans()) and targets:
        entry[{"response": "sla_response", "resolution": "sla_resolution", "handoff": "sla_handoff"}[targets[0]]] = {
            "outcome": "met"}
    return entry


filters = st.builds(QueueFilter, team=st.none() | st.sampled_from(["desk", "eng"]),
                    tier=st.none() | st.sampled_from([1, 3]), severity=st.none() | st.sampled_from(["high", "low"]),
                    status=st.none() | st.sampled_from(["open", "resolved"]), type=st.none() | st.just("data"),
                    assignee=st.none() | st.sampled_from(["me", "nobody", "someone"]),
                    text=st.none() | st.sampled_from(["export", "INC-000003", "  ", "slow checkout"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), calendar=st.sampled_from(CALENDARS), wanted=filters, now=instants,
       limit=st.integers(min_value=1, max_value=40), since_n=st.none() | st.integers(min_value=0, max_value=30))
def test_order_counts_and_words_equal_the_straightforward_computation(data, calendar, wanted, now, limit, since_n):
    found = [data.draw(entries(n)) for n in range(data.draw(st.integers(min_value=0, max_value=30)))]
    since = None if since_n is None else f"01J{since_n:023d}"
    view = build_queue(found, wanted, ME, now=now, calendar=calendar, at_risk_fraction=0.75, limit=limit, since=since)
    assert result(view) == oracle(found, wanted, ME, now, calendar, 0.75, limit, since)
    timeline = WorkingTimeline(calendar)
    for item in prepare(found, timeline):
        here = standing(item.entry, now, calendar, 0.75)
        assert item.place(timeline.mark(now), timeline) == (here.group, here.key), "every place, shown or not"


def test_the_kept_preparation_follows_the_clock_and_replaced_entries():
    calendar = CALENDARS[1]
    clock = FakeClock(START)
    t0 = clock.now()

    def ticket(n, due_in, business):
        made = new_clock(t0, t0, calendar.add_working_time(t0, due_in) if business else t0 + due_in,
                         due_in.total_seconds(), business, False, calendar)
        return {"id": f"01J{n:023d}", "number": f"INC-{n:06d}", "status": "open", "title": "t", "severity": "high",
                "tier": 1, "team": "desk", "type": "data", "kind": "incident", "assignee": None,
                "created_at": t0, "clocks": {"response": made}}

    class Views:
        entries = [ticket(1, timedelta(hours=6), business=True), ticket(2, timedelta(hours=20), business=False),
                   ticket(3, timedelta(hours=2), business=False)]

        async def open_entries(self):
            return list(self.entries)

    views = Views()
    queue = OpenQueue(views, calendar, 0.75)

    async def order():
        view = await queue.view(QueueFilter(), ME, now=clock.now(), limit=10)
        fresh = build_queue(views.entries, QueueFilter(), ME, now=clock.now(), calendar=calendar, at_risk_fraction=0.75,
                            limit=10)
        assert result(view) == result(fresh), "the kept preparation ranks as a fresh one"
        return [r.entry["number"][-1] for r in view.rows]

    assert asyncio.run(order()) == ["3", "1", "2"]
    first = queue.prepared(views.entries)
    assert all(a is b for a, b in zip(first, queue.prepared(views.entries), strict=True)), "prepared once"
    clock.advance(timedelta(hours=3))  # Friday 18:00 UTC: the working day in Berlin is over, wall clocks run on
    assert asyncio.run(order()) == ["3", "1", "2"], "3 is overdue now, 1 still has working hours left on Monday"
    clock.advance(timedelta(days=3))  # Monday 20:00 in Berlin: all overdue, 1 only by the working hours it ran over
    assert asyncio.run(order()) == ["3", "2", "1"]
    replaced = ticket(3, timedelta(hours=2), business=False)
    pause(replaced["clocks"]["response"], t0, calendar)
    replaced["status"] = "waiting_for_info"
    views.entries = [views.entries[0], views.entries[1], replaced]
    assert asyncio.run(order()) == ["2", "1", "3"], "a replaced entry is prepared again: paused now, so last"
    kept = queue.prepared(views.entries)
    assert kept[0] is first[0] and kept[2] is not first[2]


@settings(max_examples=300, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=instants, end=instants)
def test_the_timeline_counts_working_time_as_the_clocks_do(calendar, start, end):
    timeline = WorkingTimeline(calendar)
    assert timeline.between(start, end).total_seconds() == span(start, end, True, calendar)


def test_a_daylight_saving_fold_inside_working_hours_is_answered_as_the_calendar_answers():
    calendar = CALENDARS[3]  # New York, working round the clock every day: 1:00-2:00 on 1 Nov 2026 happens twice
    first = datetime(2026, 11, 1, 5, 40, tzinfo=UTC)  # 1:40 EDT
    second = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 1:10 EST, half an hour later but earlier on the wall
    timeline = WorkingTimeline(calendar)
    timeline.mark(datetime(2026, 10, 1, tzinfo=UTC))
    for start, end in ((first, second), (second, first), (first, first + timedelta(hours=3))):
        assert timeline.between(start, end).total_seconds() == span(start, end, True, calendar)
    clock = {"state": "running", "business": True, "anchor_at": first, "remaining_seconds": 600.0,
             "budget_seconds": 3600.0, "due_at": None, "gen": 0}
    entry = {"id": "01J1", "number": "INC-000001", "status": "open", "clocks": {"response": clock}}
    view = build_queue([entry], QueueFilter(), ME, now=second, calendar=calendar, at_risk_fraction=0.75, limit=5)
    assert view.rows[0].standing.key == remaining_at(clock, second, calendar)


def test_far_instants_fall_back_to_the_calendar():
    calendar = BusinessCalendar(holidays=frozenset({date(2026, 4, 3)}))
    timeline = WorkingTimeline(calendar)
    timeline.mark(START)
    far = START + timedelta(days=40_000)
    assert timeline.mark(far).work_us is None
    with pytest.raises(ValueError, match="too long"):
        timeline.between(START, far)  # what the calendar says of such an interval
    with pytest.raises(ValueError, match="aware"):
        timeline.mark(datetime(2026, 1, 1))
