from datetime import UTC, datetime

import pytest

from shared.contracts import IncidentType, Severity, TicketKind
from services.triage.domain.classification import Report, classify
from services.triage.domain.sla import SPEC_TARGETS, Target, due_at


def report(**overrides):
    values = dict(kind=TicketKind.INCIDENT, type=IncidentType.PERFORMANCE, title="Slow page", description="It is slow")
    values.update(overrides)
    return Report(**values)


@pytest.mark.parametrize(
    ("overrides", "severity", "rule", "tier"),
    [
        ({"title": "Platform is down"}, Severity.CRITICAL, "critical-text", 3),
        ({"description": "we had data loss last night"}, Severity.CRITICAL, "critical-text", 3),
        ({"users_affected": 500}, Severity.CRITICAL, "large-group", 3),
        ({"type": IncidentType.SECURITY, "title": "Odd login"}, Severity.HIGH, "security-type", 3),
        ({"description": "export is broken and there is no workaround"}, Severity.HIGH, "high-text", 2),
        ({"reported_severity": Severity.LOW}, Severity.LOW, "reporter", 2),
        ({}, Severity.MEDIUM, "default", 2),
        ({"kind": TicketKind.FEATURE_REQUEST, "title": "Platform is down mode"}, Severity.LOW, "feature-request", 2),
        ({"type": IncidentType.ACCESS, "reported_severity": Severity.HIGH}, Severity.HIGH, "reporter", 1),
    ],
)
def test_classification_follows_the_spec_criteria(overrides, severity, rule, tier):
    decision = classify(report(**overrides))
    assert (decision.severity, decision.rule, decision.tier) == (severity, rule, tier)
    assert decision.reason
    assert decision.team


def test_spec_targets():
    assert SPEC_TARGETS[Severity.CRITICAL].response.describe() == "15 minutes"
    assert SPEC_TARGETS[Severity.HIGH].resolution.describe() == "8 hours"
    assert SPEC_TARGETS[Severity.MEDIUM].response.describe() == "4 hours"
    assert SPEC_TARGETS[Severity.LOW].response.describe() == "1 business day"
    assert SPEC_TARGETS[Severity.LOW].resolution.describe() == "5 business days"


def test_wall_clock_targets_add_hours():
    start = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)
    assert due_at(start, Target(hours=0.25)) == datetime(2026, 1, 9, 17, 15, tzinfo=UTC)


def test_business_day_target_reported_friday_evening_is_due_monday():
    friday_evening = datetime(2026, 1, 9, 19, 0, tzinfo=UTC)
    assert due_at(friday_evening, Target(business_days=1)) == datetime(2026, 1, 12, 19, 0, tzinfo=UTC)
    assert due_at(friday_evening, Target(business_days=5)) == datetime(2026, 1, 16, 19, 0, tzinfo=UTC)
