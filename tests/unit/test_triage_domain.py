"""Triage's classification, routing and SLA targets under the packaged KB-005 rules, table-driven."""

from datetime import UTC, datetime, timedelta

import pytest

from services.triage.domain.classification import Report, classify, is_more_severe
from shared.contracts import IncidentType, Severity, TicketKind
from shared.sla.calendar import BusinessCalendar
from shared.sla.policy import SPEC_ALLOWANCES, Allowance, SlaPolicy
from tests.factories import triage_policy

POLICY = triage_policy()
RULES = POLICY.rulebook


def report(**overrides):
    values = dict(kind=TicketKind.INCIDENT, type=IncidentType.FEATURE, title="Export button", description="Clicking export does nothing")
    values.update(overrides)
    return Report(**values)


@pytest.mark.parametrize(
    ("overrides", "severity", "rule"),
    [
        # Critical (Severity 1)
        ({"title": "Platform is down"}, Severity.CRITICAL, "critical-text"),
        ({"description": "the platform is unavailable for everyone"}, Severity.CRITICAL, "critical-text"),
        ({"description": "we had a security breach last night"}, Severity.CRITICAL, "critical-text"),
        ({"description": "we had data loss last night"}, Severity.CRITICAL, "critical-text"),
        ({"description": "the report shows corrupted data"}, Severity.CRITICAL, "critical-text"),
        ({"description": "this affects all users"}, Severity.CRITICAL, "critical-text"),
        ({"description": "business operations halted in the warehouse"}, Severity.CRITICAL, "critical-text"),
        ({"users_affected": 500}, Severity.CRITICAL, "critical-large-group"),
        ({"users_affected": 100}, Severity.CRITICAL, "critical-large-group"),
        ({"type": IncidentType.INFRASTRUCTURE, "production": True, "workaround_available": False},
         Severity.CRITICAL, "critical-production-infrastructure"),
        # High (Severity 2)
        ({"type": IncidentType.SECURITY, "title": "Odd login pattern"}, Severity.HIGH, "security-vulnerability"),
        ({"description": "a major feature stopped working"}, Severity.HIGH, "high-text"),
        ({"description": "export is broken"}, Severity.HIGH, "high-text"),
        ({"description": "there is no workaround"}, Severity.HIGH, "high-text"),
        ({"description": "customer data at risk"}, Severity.HIGH, "high-text"),
        ({"users_affected": 99}, Severity.HIGH, "high-significant-users"),
        ({"users_affected": 20}, Severity.HIGH, "high-significant-users"),
        ({"workaround_available": False}, Severity.HIGH, "high-no-workaround"),
        # Medium (Severity 3)
        ({"type": IncidentType.SECURITY, "description": "a non-urgent concern about password rules"},
         Severity.MEDIUM, "security-concern"),
        ({"description": "search is slow but usable"}, Severity.MEDIUM, "medium-degraded"),
        ({"description": "performance degraded since Monday"}, Severity.MEDIUM, "medium-degraded"),
        ({"description": "only the finance department sees it"}, Severity.MEDIUM, "medium-degraded"),
        ({"users_affected": 19}, Severity.MEDIUM, "medium-group"),
        ({"users_affected": 5}, Severity.MEDIUM, "medium-group"),
        ({"workaround_available": True}, Severity.MEDIUM, "medium-workaround"),
        # Low (Severity 4)
        ({"kind": TicketKind.FEATURE_REQUEST, "title": "Platform is down mode"}, Severity.LOW, "feature-request"),
        ({"description": "a cosmetic glitch in the footer"}, Severity.LOW, "low-text"),
        ({"description": "typo on the settings page", "workaround_available": True}, Severity.LOW, "low-text"),
        ({"description": "the documentation is out of date"}, Severity.LOW, "low-text"),
        ({"users_affected": 1}, Severity.LOW, "low-single-user"),
        ({"users_affected": 4}, Severity.LOW, "low-single-user"),
        # no criterion: the reporter's guess, else the default
        ({"reported_severity": Severity.HIGH}, Severity.HIGH, "reporter"),
        ({"reported_severity": Severity.LOW}, Severity.LOW, "reporter"),
        ({}, Severity.MEDIUM, "default"),
        # the criteria win over the reporter
        ({"reported_severity": Severity.LOW, "title": "Platform is down"}, Severity.CRITICAL, "critical-text"),
        ({"reported_severity": Severity.CRITICAL, "description": "a cosmetic glitch"}, Severity.LOW, "low-text"),
    ],
)
def test_severity_follows_the_spec_criteria(overrides, severity, rule):
    decision = classify(report(**overrides), RULES)
    assert (decision.severity, decision.rule) == (severity, rule)
    assert decision.reason and "{" not in decision.reason


def test_reasons_name_what_matched():
    assert "'platform is down'" in classify(report(title="Platform is down"), RULES).reason
    assert classify(report(users_affected=150), RULES).reason.startswith("150 users affected")


@pytest.mark.parametrize(
    ("overrides", "tier", "team", "route"),
    [
        ({"type": IncidentType.ACCESS, "title": "Account locked"}, 1, "service-desk", "account"),
        ({"description": "how do I export a report?"}, 1, "service-desk", "usage"),
        ({"type": IncidentType.PERFORMANCE, "title": "Search lag"}, 2, "technical-support", "performance"),
        ({"description": "the configuration of SSO seems off"}, 2, "technical-support", "configuration"),
        ({"type": IncidentType.DATA, "title": "Sync failures"}, 2, "technical-support", "technical"),
        ({}, 2, "technical-support", "technical"),
        ({"title": "Platform is down"}, 3, "senior-engineering", "critical"),
        ({"type": IncidentType.SECURITY, "title": "Odd login"}, 3, "senior-engineering", "security"),
        ({"type": IncidentType.INFRASTRUCTURE, "title": "Disk nearly full"}, 3, "senior-engineering", "infrastructure"),
        ({"description": "the third-party payment provider rejects cards"}, 4, "vendor-management", "third-party"),
        ({"type": IncidentType.INFRASTRUCTURE, "description": "hardware fault in the rack"}, 4, "vendor-management", "hardware"),
    ],
)
def test_routing_to_tier_and_team(overrides, tier, team, route):
    decision = classify(report(**overrides), RULES)
    assert (decision.tier, decision.team, decision.route) == (tier, team, route)


def test_growth_raises_severity_only_upward():
    base = report(users_affected=5)
    assert classify(base, RULES).severity is Severity.MEDIUM
    assert classify(base.with_users_affected(25), RULES).severity is Severity.HIGH
    assert classify(base.with_users_affected(250), RULES).severity is Severity.CRITICAL
    assert is_more_severe(Severity.CRITICAL, Severity.HIGH)
    assert not is_more_severe(Severity.LOW, Severity.HIGH)
    assert not is_more_severe(Severity.HIGH, Severity.HIGH)


@pytest.mark.parametrize(
    ("severity", "response", "resolution"),
    [
        (Severity.CRITICAL, "15 minutes", "4 hours"),
        (Severity.HIGH, "1 hour", "8 hours"),
        (Severity.MEDIUM, "4 hours", "24 hours"),
        (Severity.LOW, "1 business day", "5 business days"),
    ],
)
def test_spec_targets_are_the_configured_defaults(severity, response, resolution):
    for targets in (SPEC_ALLOWANCES[severity], POLICY.sla.allowances[severity]):
        assert (targets.response.describe(), targets.resolution.describe()) == (response, resolution)
    assert POLICY.sla.acknowledge.describe() == "1 hour"


MONDAY_9 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("severity", "response", "resolution"),
    [
        (Severity.CRITICAL, timedelta(minutes=15), timedelta(hours=4)),
        (Severity.HIGH, timedelta(hours=1), timedelta(hours=8)),
        (Severity.MEDIUM, timedelta(hours=4), timedelta(hours=24)),
    ],
)
def test_wall_clock_targets_run_round_the_clock(severity, response, resolution):
    friday_evening = datetime(2026, 1, 9, 19, 0, tzinfo=UTC)
    deadlines = POLICY.sla.deadlines(severity, friday_evening)
    assert deadlines.acknowledge_due_at == friday_evening + timedelta(hours=1)
    assert deadlines.response_due_at == friday_evening + response
    assert deadlines.resolution_due_at == friday_evening + resolution


@pytest.mark.parametrize(
    ("start", "response_due", "resolution_due"),
    [
        # Friday evening: next working day, not Saturday
        (datetime(2026, 1, 9, 19, 0, tzinfo=UTC), datetime(2026, 1, 12, 17, 0, tzinfo=UTC), datetime(2026, 1, 16, 17, 0, tzinfo=UTC)),
        # inside working hours: the same time one / five working days later
        (datetime(2026, 1, 6, 10, 30, tzinfo=UTC), datetime(2026, 1, 7, 10, 30, tzinfo=UTC), datetime(2026, 1, 13, 10, 30, tzinfo=UTC)),
        # Saturday: counts from Monday 09:00
        (datetime(2026, 1, 10, 12, 0, tzinfo=UTC), datetime(2026, 1, 12, 17, 0, tzinfo=UTC), datetime(2026, 1, 16, 17, 0, tzinfo=UTC)),
        # before opening: from 09:00 the same day
        (datetime(2026, 1, 6, 7, 0, tzinfo=UTC), datetime(2026, 1, 6, 17, 0, tzinfo=UTC), datetime(2026, 1, 12, 17, 0, tzinfo=UTC)),
        # US public holidays (packaged default): Thursday 31 Dec 2026 + New Year's Day skipped
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), datetime(2027, 1, 4, 16, 0, tzinfo=UTC), datetime(2027, 1, 8, 16, 0, tzinfo=UTC)),
        # Martin Luther King Jr. Day, Monday 19 Jan 2026
        (datetime(2026, 1, 16, 18, 0, tzinfo=UTC), datetime(2026, 1, 20, 17, 0, tzinfo=UTC), datetime(2026, 1, 26, 17, 0, tzinfo=UTC)),
    ],
)
def test_business_day_targets_follow_the_calendar(start, response_due, resolution_due):
    deadlines = POLICY.sla.deadlines(Severity.LOW, start)
    assert (deadlines.response_due_at, deadlines.resolution_due_at) == (response_due, resolution_due)


def test_business_days_in_a_local_time_zone():
    from zoneinfo import ZoneInfo

    berlin = BusinessCalendar(timezone=ZoneInfo("Europe/Berlin"))
    friday_evening_berlin = datetime(2026, 1, 9, 17, 30, tzinfo=UTC)  # 18:30 in Berlin
    assert SlaPolicy(calendar=berlin).due_at(friday_evening_berlin, Allowance(business_days=1)) == datetime(2026, 1, 12, 16, 0, tzinfo=UTC)


def test_wall_clock_due_at_adds_hours():
    start = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)
    assert SlaPolicy().due_at(start, Allowance(hours=0.25)) == datetime(2026, 1, 9, 17, 15, tzinfo=UTC)


@pytest.mark.parametrize("bad", [dict(hours=-1), dict(business_days=-1), dict(hours=1, business_days=1)])
def test_an_allowance_is_one_non_negative_unit(bad):
    with pytest.raises(ValueError):
        Allowance(**bad)
