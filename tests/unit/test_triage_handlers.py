"""Triage's handlers with fakes: triaged events, duplicate grouping, growth and agent overrides."""

from datetime import timedelta

import pytest

from services.triage.service_layer.handlers import (
    apply_severity_override,
    triage_reported_ticket,
)
from shared.clock import FakeClock
from shared.contracts import IncidentType, Reporter, Severity, TicketTriaged
from shared.contracts.lifecycle_events import Actor, TicketSeverityChanged
from shared.contracts.triage_events import TicketDuplicateDetected, TicketReclassified
from shared.ids import new_id
from tests.factories import REPORTED_AT, envelope_for, reported, triage_policy
from tests.fakes_escalation import FakeFingerprintGroups, FakeTriageRecords

POLICY = triage_policy()
AGENT = Actor(type="agent", id="a1", name="Grace")


class Triage:
    """Triage's handlers wired to fakes, as bootstrap wires them to Mongo."""

    def __init__(self) -> None:
        self.decisions = FakeTriageRecords()
        self.groups = FakeFingerprintGroups()
        self.clock = FakeClock(REPORTED_AT + timedelta(seconds=3))

    async def report(self, **overrides):
        event = reported(**{"ticket_id": new_id(), **overrides})
        envelope = envelope_for(event)
        assert await triage_reported_ticket(
            envelope, event, policy=POLICY, records=self.decisions, groups=self.groups, clock=self.clock
        ) == [], "triage keeps the events it owes in its records"
        return event, self.decisions.drain(), envelope

    async def override(self, ticket_id: str, severity: Severity, source: str = "agent"):
        event = TicketSeverityChanged(
            ticket_id=ticket_id, number="INC-000001", title="Checkout is slow", actor=AGENT, at=self.clock.now(),
            status="in_progress", reporter=Reporter(id="r1", name="Ada"), new_severity=severity,
            reason="customer is a hospital", source=source,
        )
        assert await apply_severity_override(
            envelope_for(event), event, policy=POLICY, records=self.decisions, clock=self.clock
        ) == []
        return self.decisions.drain()


def types(out):
    return [e.event_type for e in out]


@pytest.mark.parametrize(
    ("overrides", "severity", "tier", "team", "response", "resolution"),
    [
        ({"reported_severity": Severity.HIGH}, Severity.HIGH, 1, "service-desk", timedelta(hours=1), timedelta(hours=8)),
        ({"title": "Platform is down", "type": IncidentType.INFRASTRUCTURE}, Severity.CRITICAL, 3, "senior-engineering",
         timedelta(minutes=15), timedelta(hours=4)),
        ({"type": IncidentType.PERFORMANCE, "title": "Search is slow"}, Severity.MEDIUM, 2, "technical-support",
         timedelta(hours=4), timedelta(hours=24)),
        # Monday 09:00: one / five business days of working time
        ({"description": "a cosmetic glitch"}, Severity.LOW, 1, "service-desk", timedelta(hours=8), timedelta(days=4, hours=8)),
    ],
)
async def test_triaged_event_carries_severity_routing_and_due_times(overrides, severity, tier, team, response, resolution):
    triage = Triage()
    event, [out], envelope = await triage.report(**overrides)
    assert out.event_type == "ticket.triaged" and out.ticket_id == event.ticket_id
    assert out.correlation_id == envelope.correlation_id
    payload = TicketTriaged.model_validate(out.payload)
    assert (payload.severity, payload.tier, payload.team) == (severity, tier, team)
    assert payload.reported_severity == event.reported_severity
    assert payload.response_due_at == REPORTED_AT + response
    assert payload.resolution_due_at == REPORTED_AT + resolution
    assert payload.acknowledge_due_at == REPORTED_AT + timedelta(hours=1)
    record = triage.decisions.records[event.ticket_id]
    assert record["severity"] == severity.value and record["deadlines"]["response_due_at"] == payload.response_due_at


def person(n: int) -> Reporter:
    """Return the nth distinct reporter."""
    return Reporter(id=f"r{n}", name=f"Reporter {n}", email=f"r{n}@example.com")


async def test_one_reporter_claiming_millions_in_look_alikes_cannot_raise_anothers_ticket():
    triage = Triage()
    await triage.report(title="Checkout is slow", users_affected=2, reporter=person(1))
    for _ in range(5):
        _, out, _ = await triage.report(title="Checkout is slow", users_affected=100_000_000, reporter=person(666))
        assert "ticket.reclassified" not in types(out)
    unverified = reported(title="Checkout is slow", users_affected=500,
                          reporter=Reporter(id="r7", name="Spoofed", email="r7@example.com", verified=False))
    assert await triage_reported_ticket(envelope_for(unverified), unverified, policy=POLICY, records=triage.decisions,
                                        groups=triage.groups, clock=triage.clock) == []
    detected = [TicketDuplicateDetected.model_validate(o.payload) for o in triage.decisions.drain()
                if o.event_type == "ticket.duplicate_detected"]
    assert detected[-1].users_affected == 3, "the primary's 2 and one distinct verified reporter"


async def test_a_duplicate_is_grouped_under_the_first_ticket():
    triage = Triage()
    primary, _, _ = await triage.report(title="Checkout is slow", number="INC-000001", users_affected=3)
    duplicate, out, _ = await triage.report(title="checkout is SLOW!", number="INC-000002", users_affected=2,
                                            reporter=person(2))
    assert types(out) == ["ticket.triaged", "ticket.duplicate_detected"]
    detected_envelope = out[1]
    assert detected_envelope.ticket_id == primary.ticket_id
    detected = TicketDuplicateDetected.model_validate(detected_envelope.payload)
    assert (detected.primary_ticket_id, detected.primary_number) == (primary.ticket_id, "INC-000001")
    assert (detected.duplicate_ticket_id, detected.duplicate_number) == (duplicate.ticket_id, "INC-000002")
    assert (detected.reports, detected.users_affected) == (2, 4), "the primary's claim, and one more reporter"

    _, out, _ = await triage.report(title="Checkout is slow", number="INC-000003", reporter=person(3))
    third = TicketDuplicateDetected.model_validate(out[1].payload)
    assert (third.reports, third.users_affected) == (3, 5)


@pytest.mark.parametrize(
    ("second", "grouped"),
    [
        ({}, True),
        ({"component": "search"}, False),
        ({"type": IncidentType.DATA}, False),
        ({"title": "Checkout is broken"}, False),
        ({"reported_at": REPORTED_AT + timedelta(hours=25)}, False),
        ({"reported_at": REPORTED_AT + timedelta(hours=23)}, True),
    ],
)
async def test_grouping_needs_the_same_fingerprint_within_the_window(second, grouped):
    triage = Triage()
    await triage.report(title="Checkout is slow", component="checkout")
    _, out, _ = await triage.report(**{"title": "Checkout is slow", "component": "checkout", **second})
    assert ("ticket.duplicate_detected" in types(out)) is grouped


async def test_a_redelivered_report_is_not_counted_twice():
    triage = Triage()
    await triage.report(title="Checkout is slow")
    event, _, envelope = await triage.report(title="Checkout is slow")
    again = await triage_reported_ticket(
        envelope, event, policy=POLICY, records=triage.decisions, groups=triage.groups, clock=triage.clock
    )
    assert again == [] and triage.decisions.drain() == [], "the record exists: only what it still owes is republished"
    [group] = triage.groups.documents.values()
    assert group["reports"] == 2


@pytest.mark.parametrize(
    ("primary_users", "others", "new_severity", "rule"),
    [
        (5, 15, Severity.HIGH, "high-significant-users"),  # 5 + 15 distinct reporters = 20 users
        (25, 75, Severity.CRITICAL, "critical-large-group"),  # 25 + 75 = 100
        (5, 3, None, None),  # 8 users: still Medium, no change
        (1, 2, None, None),  # 3 users: Low stays Low
    ],
)
async def test_growth_counts_distinct_reporters_and_raises_the_primary(primary_users, others, new_severity, rule):
    triage = Triage()
    primary, [triaged], _ = await triage.report(title="Checkout is slow", users_affected=primary_users)
    old = TicketTriaged.model_validate(triaged.payload)
    triage.clock.advance(timedelta(minutes=30))
    for n in range(2, others + 1):
        _, out, _ = await triage.report(title="Checkout is slow", users_affected=1000, reporter=person(n))
        assert "ticket.reclassified" not in types(out), "no single report's claim raises someone else's ticket"
    _, out, _ = await triage.report(title="Checkout is slow", users_affected=1, reporter=person(others + 1))
    if new_severity is None:
        assert "ticket.reclassified" not in types(out)
        return
    assert types(out) == ["ticket.triaged", "ticket.duplicate_detected", "ticket.reclassified"]
    assert out[2].ticket_id == primary.ticket_id
    event = TicketReclassified.model_validate(out[2].payload)
    assert (event.old_severity, event.severity, event.rule) == (old.severity, new_severity, rule)
    assert event.trigger == "growth" and event.escalation_trigger is True
    assert event.users_affected == primary_users + others
    assert f"{primary_users + others} users affected in total" in event.reason
    assert (event.old_response_due_at, event.old_resolution_due_at) == (old.response_due_at, old.resolution_due_at)
    assert event.resolution_due_at < old.resolution_due_at
    assert event.changed_at == triage.clock.now() and event.spent_seconds == pytest.approx(1803)
    assert triage.decisions.records[primary.ticket_id]["severity"] == new_severity.value


async def test_agent_override_wins_and_moves_the_due_times():
    triage = Triage()
    primary, [triaged], _ = await triage.report(title="Checkout is slow", users_affected=5)
    triage.clock.advance(timedelta(hours=1))
    [out] = await triage.override(primary.ticket_id, Severity.LOW)
    event = TicketReclassified.model_validate(out.payload)
    assert (event.old_severity, event.severity, event.trigger, event.rule) == (Severity.MEDIUM, Severity.LOW, "agent", "agent-override")
    assert event.escalation_trigger is False and event.actor == AGENT
    assert event.paused_seconds == 0  # intake does not know paused time; escalation's clocks do
    assert event.old_response_due_at == TicketTriaged.model_validate(triaged.payload).response_due_at
    assert event.response_target == "1 business day"
    # growth no longer changes an overridden severity
    _, out, _ = await triage.report(title="Checkout is slow", users_affected=500)
    assert types(out) == ["ticket.triaged", "ticket.duplicate_detected"]
    assert triage.decisions.records[primary.ticket_id]["severity"] == "low"


async def test_override_to_the_same_severity_emits_nothing_but_pins_it():
    triage = Triage()
    primary, _, _ = await triage.report(title="Checkout is slow", users_affected=5)
    assert await triage.override(primary.ticket_id, Severity.MEDIUM) == []
    assert triage.decisions.records[primary.ticket_id]["overridden"] is True
    assert await triage.override(primary.ticket_id, Severity.MEDIUM) == []


async def test_agent_raise_is_an_escalation_trigger_and_reroutes():
    triage = Triage()
    primary, _, _ = await triage.report(title="Checkout is slow", type=IncidentType.PERFORMANCE)
    [out] = await triage.override(primary.ticket_id, Severity.CRITICAL, source="priority_bump")
    event = TicketReclassified.model_validate(out.payload)
    assert event.escalation_trigger is True and event.trigger == "priority_bump"
    assert (event.old_tier, event.tier, event.team) == (2, 3, "senior-engineering")


async def test_override_of_an_unknown_ticket_is_retried():
    with pytest.raises(LookupError, match="no record"):
        await Triage().override(new_id(), Severity.HIGH)


async def test_emitted_events_travel_as_registered_contracts():
    from shared.contracts import parse_message
    from shared.messaging.topology import CONSUMER_QUEUES

    triage = Triage()
    await triage.report(title="Checkout is slow", users_affected=5)
    _, out, _ = await triage.report(title="Checkout is slow", users_affected=200)
    [override] = await triage.override(out[0].ticket_id, Severity.LOW)
    for envelope in [*out, override]:
        parsed_envelope, payload = parse_message(envelope.to_bytes())
        assert type(payload).EVENT_TYPE == parsed_envelope.event_type
    assert "ticket.severity_changed" in CONSUMER_QUEUES["triage"].routing_keys
