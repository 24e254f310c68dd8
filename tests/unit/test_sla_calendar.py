"""Properties of the business calendar: due times lie in working hours, off weekends and holidays, monotone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.sla.calendar import BusinessCalendar

CALENDARS = [
    BusinessCalendar(holidays=holidays.country_holidays("US")),
    BusinessCalendar(
        timezone=ZoneInfo("Europe/Berlin"),
        opens=time(8, 30),
        closes=time(16, 45),
        holidays=holidays.country_holidays("DE", subdiv="BY"),
    ),
    BusinessCalendar(timezone=ZoneInfo("Asia/Dubai"), weekend=frozenset({4, 5}), holidays=frozenset({date(2026, 3, 20)})),
    BusinessCalendar(timezone=ZoneInfo("America/New_York"), opens=time(0, 0), closes=time(23, 59)),
]

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
calendars = st.sampled_from(CALENDARS)
durations = st.one_of(
    st.integers(min_value=0, max_value=10).map(lambda days: ("days", days)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)).map(lambda d: ("time", d)),
)


def due(calendar: BusinessCalendar, start: datetime, amount) -> datetime:
    kind, value = amount
    return calendar.add_business_days(start, value) if kind == "days" else calendar.add_working_time(start, value)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, amount=durations)
def test_due_time_is_inside_working_hours_on_a_working_day(calendar, start, amount):
    result = due(calendar, start, amount)
    local = result.astimezone(calendar.timezone)
    assert calendar.opens <= local.time().replace(tzinfo=None) <= calendar.closes
    assert local.weekday() not in calendar.weekend
    assert local.date() not in calendar.holidays
    assert calendar.is_working_day(local.date())
    assert result >= start


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, first=instants, second=instants, amount=durations)
def test_due_time_is_monotone_in_the_start_time(calendar, first, second, amount):
    early, late = sorted((first, second))
    assert due(calendar, early, amount) <= due(calendar, late, amount)


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, work=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=15)))
def test_working_time_between_start_and_due_is_what_was_added(calendar, start, work):
    result = calendar.add_working_time(start, work)
    assert calendar.working_time_between(start, result) == work


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, days=st.integers(min_value=1, max_value=10))
def test_more_business_days_never_come_due_sooner(calendar, start, days):
    assert calendar.add_business_days(start, days - 1) <= calendar.add_business_days(start, days)


@pytest.mark.parametrize(
    "kwargs",
    [dict(opens=time(17), closes=time(9)), dict(weekend=frozenset(range(7))), dict(weekend=frozenset({7}))],
)
def test_impossible_calendars_are_refused(kwargs):
    with pytest.raises(ValueError):
        BusinessCalendar(**kwargs)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        BusinessCalendar().add_working_time(datetime(2026, 1, 5, 9), timedelta(hours=1))
