"""SLA outcomes derived from (ticket before, change), stored once by perform and observed as metrics."""

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.intake.adapters.sla_metrics import SlaObserver
from services.intake.domain import actions
from services.intake.domain.sla import outcome_fields, sla_outcomes
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.commands import ConcurrentChange, perform
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor
from shared.sla_metrics import SLA_BUCKETS, SlaMetrics
from tests.fakes import FakeTickets

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENT = Actor(type="agent", id="a1", name="Ann")
REPORTER = Actor(type="reporter", id="r1", name="Ada")


def ticket(severity="high", response_h=1, resolution_h=8, **extra):
    document = new_ticket_document(ticket_id="t1", number="INC-000001", fields={"title": "Export fails"},
                                   reporter={"id": "r1", "name": "Ada", "email": None}, now=T0, outbox=[])
    if severity is not None:
        document.update(severity=severity, tier=2, team="platform", sla={
            "acknowledge_due_at": T0 + timedelta(hours=1), "response_due_at": T0 + timedelta(hours=response_h),
            "resolution_due_at": T0 + timedelta(hours=resolution_h), "response_target": f"{response_h} hours"})
    document.update(extra)
    return document


def test_first_response_on_time_is_met_with_elapsed_from_report():
    change = actions.acknowledge(ticket(), AGENT, T0 + timedelta(minutes=20))
    [outcome] = sla_outcomes(change.ticket, change.fields, change.now)
    assert (outcome.target, outcome.severity, outcome.met, outcome.elapsed_seconds) == ("response", "high", True, 1200.0)
    assert outcome_fields([outcome])["sla_response"]["outcome"] == "met"


def test_response_exactly_at_the_due_time_is_met_one_millisecond_later_breached():
    due = T0 + timedelta(hours=1)
    assert sla_outcomes(ticket(), {"first_response_at": due}, due)[0].met
    late = due + timedelta(milliseconds=1)
    assert not sla_outcomes(ticket(), {"first_response_at": late}, late)[0].met


def test_resolving_an_unanswered_ticket_measures_both_targets():
    now = T0 + timedelta(hours=9)
    outcomes = sla_outcomes(ticket(), actions.resolve(ticket(), AGENT, now, "fixed").fields, now)
    assert [(o.target, o.met) for o in outcomes] == [("response", False), ("resolution", False)]


@pytest.mark.parametrize("target", [Status.CLOSED])
def test_closing_straight_from_open_is_a_resolution(target):
    now = T0 + timedelta(hours=2)
    change = actions.change_status(ticket(), AGENT, now, target, "duplicate")
    assert {o.target: o.met for o in sla_outcomes(change.ticket, change.fields, now)} == {"response": False, "resolution": True}


def test_only_the_first_resolution_counts_and_confirming_it_is_not_another():
    resolved = ticket(status="resolved", first_response_at=T0, resolved_at=T0 + timedelta(hours=1))
    assert sla_outcomes(resolved, {"status": "closed", "closed_at": T0}, T0 + timedelta(hours=2)) == []
    reopened = {**resolved, "status": "in_progress"}
    assert sla_outcomes(reopened, {"status": "resolved"}, T0 + timedelta(hours=3)) == []


def test_reporter_actions_and_untriaged_tickets_measure_nothing():
    change = actions.comment(ticket(), REPORTER, T0 + timedelta(minutes=5), "more detail", False)
    assert sla_outcomes(change.ticket, change.fields, change.now) == []
    change = actions.acknowledge(ticket(severity=None), AGENT, T0 + timedelta(minutes=5))
    assert "first_response_at" in change.fields
    assert sla_outcomes(change.ticket, change.fields, change.now) == []


def sample(registry, name, **labels):
    return registry.get_sample_value(name, labels) or 0.0


async def test_perform_stores_the_outcome_and_observes_it_once():
    registry = CollectorRegistry()
    observe = SlaObserver(SlaMetrics.register(registry))
    tickets = FakeTickets()
    await tickets.insert(ticket(status="in_progress"))
    stale = await tickets.get("t1")
    updated = await perform(actions.comment(stale, AGENT, T0 + timedelta(hours=2), "looking", False), tickets=tickets,
                            observe_sla=observe)
    assert updated["sla_response"] == {"severity": "high", "outcome": "breached", "elapsed_seconds": 7200.0,
                                       "at": T0 + timedelta(hours=2), "due_at": T0 + timedelta(hours=1)}
    # a concurrent first response from the same read (status unchanged) is refused, not counted twice
    with pytest.raises(ConcurrentChange):
        await perform(actions.comment(stale, AGENT, T0 + timedelta(hours=3), "on it", False), tickets=tickets,
                      observe_sla=observe)
    assert sample(registry, "incidents_sla_response_total", severity="high", outcome="breached") == 1
    assert sample(registry, "incidents_sla_response_total", severity="high", outcome="met") == 0
    assert sample(registry, "incidents_time_to_first_response_seconds_count", severity="high") == 1
    assert sample(registry, "incidents_time_to_first_response_seconds_sum", severity="high") == 7200
    assert sample(registry, "incidents_time_to_first_response_seconds_bucket", severity="high", le="7200.0") == 1
    assert sample(registry, "incidents_time_to_first_response_seconds_bucket", severity="high", le="3600.0") == 0


def test_every_severity_and_outcome_exists_at_zero_and_buckets_sit_on_the_targets():
    registry = CollectorRegistry()
    SlaMetrics.register(registry)
    for severity in ("critical", "high", "medium", "low"):
        for outcome in ("met", "breached"):
            assert registry.get_sample_value("incidents_sla_resolution_total", {"severity": severity, "outcome": outcome}) == 0
        assert registry.get_sample_value("incidents_tickets_at_risk", {"severity": severity, "target": "response"}) == 0
    hours = {b / 3600 for b in SLA_BUCKETS}
    assert {0.25, 1, 4, 8, 24, 40, 72, 168} <= hours
