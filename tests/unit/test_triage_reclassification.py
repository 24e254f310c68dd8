"""Reclassification: the new severity's targets apply from the change; spent and paused time carry over."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.triage.domain.duplicates import (
    GroupView,
    fingerprint,
    joins,
    normalise_title,
    users_counted,
)
from shared.contracts import IncidentType, Severity
from shared.sla.reschedule import reschedule
from tests.factories import triage_policy

POLICY = triage_policy()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday
OLD = POLICY.sla.deadlines(Severity.MEDIUM, START)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severity", "changed_at", "paused", "carry", "response_due", "resolution_due", "spent"),
    [
        # raised after 1 h: what is left of the High targets, counted from the change
        (Severity.HIGH, at(5, 10), timedelta(0), True, at(5, 10), at(5, 17), timedelta(hours=1)),
        (Severity.CRITICAL, at(5, 10), timedelta(0), True, at(5, 10), at(5, 13), timedelta(hours=1)),
        # 30 min of that hour were paused: only active time counts
        (Severity.HIGH, at(5, 10), timedelta(minutes=30), True, at(5, 10, 30), at(5, 17, 30), timedelta(minutes=30)),
        # lowered to Low: business days on the calendar, minus the working hour already spent
        (Severity.LOW, at(5, 10), timedelta(0), True, at(5, 17), at(9, 17), timedelta(hours=1)),
        # spent more than the new target allows: due at the change itself
        (Severity.CRITICAL, at(6, 12), timedelta(0), True, at(6, 12), at(6, 12), timedelta(hours=27)),
        # without carry-over the new targets run in full from the change
        (Severity.HIGH, at(5, 10), timedelta(0), False, at(5, 11), at(5, 18), timedelta(hours=1)),
        (Severity.LOW, at(5, 10), timedelta(0), False, at(6, 10), at(12, 10), timedelta(hours=1)),
    ],
)
def test_new_targets_apply_from_the_change(severity, changed_at, paused, carry, response_due, resolution_due, spent):
    policy = replace(POLICY.sla, carry_over_spent_time=carry)
    moved = reschedule(policy, severity, started_at=START, changed_at=changed_at, paused=paused, old=OLD)
    assert (moved.new.response_due_at, moved.new.resolution_due_at) == (response_due, resolution_due)
    assert moved.new.acknowledge_due_at == OLD.acknowledge_due_at
    assert moved.old == OLD
    assert (moved.spent, moved.paused) == (spent, paused)
    assert moved.new.response_due_at >= changed_at and moved.new.resolution_due_at >= changed_at


def test_a_change_cannot_precede_the_start():
    with pytest.raises(ValueError):
        reschedule(POLICY.sla, Severity.HIGH, started_at=START, changed_at=START - timedelta(1), paused=timedelta(0), old=OLD)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Checkout is very slow", "checkout is VERY slow!!", True),
        ("Checkout is very slow", "  The checkout   is very slow. ", True),
        ("Café menu broken", "cafe menu broken", True),
        ("Checkout is very slow", "Checkout is slow", False),
        ("Report 1", "Report 2", False),
    ],
)
def test_titles_are_normalised_for_the_fingerprint(first, second, same):
    assert (normalise_title(first) == normalise_title(second)) is same
    assert (fingerprint(IncidentType.PERFORMANCE, None, first) == fingerprint(IncidentType.PERFORMANCE, None, second)) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ((IncidentType.PERFORMANCE, "checkout"), (IncidentType.PERFORMANCE, " Checkout "), True),
        ((IncidentType.PERFORMANCE, "checkout"), (IncidentType.PERFORMANCE, "search"), False),
        ((IncidentType.PERFORMANCE, None), (IncidentType.DATA, None), False),
        ((IncidentType.PERFORMANCE, None), (IncidentType.PERFORMANCE, ""), True),
    ],
)
def test_fingerprint_uses_type_and_component(a, b, same):
    assert (fingerprint(*a, "Slow") == fingerprint(*b, "Slow")) is same


GROUP = GroupView("f", "t1", "INC-000001", START, reports=1, users_affected=1)


@pytest.mark.parametrize(
    ("reported_at", "window", "joined"),
    [
        (START + timedelta(hours=23), timedelta(hours=24), True),
        (START + timedelta(hours=24), timedelta(hours=24), True),
        (START + timedelta(hours=25), timedelta(hours=24), False),
        (START - timedelta(minutes=5), timedelta(hours=24), True),
        (START + timedelta(hours=2), timedelta(hours=1), False),
    ],
)
def test_reports_join_a_group_within_the_window(reported_at, window, joined):
    assert joins(GROUP, reported_at, window) is joined
    assert joins(replace(GROUP, reports=9), reported_at, window) is joined


@pytest.mark.parametrize(("users", "counted"), [(None, 1), (0, 1), (1, 1), (40, 40)])
def test_each_report_counts_at_least_its_reporter(users, counted):
    assert users_counted(users) == counted
