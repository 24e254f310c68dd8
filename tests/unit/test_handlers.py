from datetime import timedelta

import pytest

from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers as escalation_handlers
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.event_handlers import apply_triage
from services.triage.service_layer.handlers import triage_reported_ticket
from shared.clock import FakeClock
from shared.contracts import Severity, TicketTriaged
from shared.messaging.consumer import PermanentError
from tests.factories import (
    REPORTED_AT,
    envelope_for,
    escalation_policy,
    reported,
    triage_policy,
    triaged,
)
from tests.fakes import FakeTickets
from tests.fakes_escalation import FakeClocks, FakeFingerprintGroups, FakeTriageRecords


async def test_triage_emits_triaged_with_due_times_from_the_report_time():
    clock = FakeClock(REPORTED_AT + timedelta(seconds=3))
    event = reported(reported_severity=Severity.HIGH)
    records = FakeTriageRecords()
    await triage_reported_ticket(
        envelope_for(event), event, policy=triage_policy(), records=records, groups=FakeFingerprintGroups(), clock=clock
    )
    [out] = records.drain()
    assert out.event_type == "ticket.triaged"
    assert out.ticket_id == event.ticket_id
    payload = TicketTriaged.model_validate(out.payload)
    assert payload.severity is Severity.HIGH
    assert payload.response_due_at == REPORTED_AT + timedelta(hours=1)
    assert payload.resolution_due_at == REPORTED_AT + timedelta(hours=8)
    assert payload.acknowledge_due_at == REPORTED_AT + timedelta(hours=1)


async def test_intake_applies_triage_once_per_event():
    tickets = FakeTickets()
    event = triaged()
    await tickets.insert(
        new_ticket_document(ticket_id=event.ticket_id, number=event.number, fields={"title": event.title},
                            reporter={"id": "r1", "name": "Ada"}, now=REPORTED_AT, outbox=[])
    )
    envelope = envelope_for(event)
    clock = FakeClock(REPORTED_AT)
    await apply_triage(envelope, event, tickets=tickets, clock=clock)
    await apply_triage(envelope, event, tickets=tickets, clock=clock)
    document = tickets.documents[event.ticket_id]
    assert document["severity"] == "high"
    assert document["sla"]["response_due_at"] == event.response_due_at
    assert [e["action"] for e in document["timeline"]] == ["reported", "triaged"]


async def test_intake_dead_letters_triage_for_an_unknown_ticket():
    event = triaged()
    with pytest.raises(PermanentError, match="does not exist"):
        await apply_triage(envelope_for(event), event, tickets=FakeTickets(), clock=FakeClock())


async def test_escalation_keeps_the_first_clock():
    clocks = FakeClocks()
    work = ClockUpdater(clocks, escalation_policy(), FakeClock())
    handle = escalation_handlers(work)["ticket.triaged"]
    first = triaged()
    await handle(envelope_for(first), first)
    again = first.model_copy(update={"response_due_at": REPORTED_AT + timedelta(days=9)})
    await handle(envelope_for(again), again)
    assert clocks.clocks[first.ticket_id]["clocks"]["response"]["due_at"] == first.response_due_at
    assert clocks.clocks[first.ticket_id]["next_due_at"] == REPORTED_AT + timedelta(minutes=10)  # the high-severity page repeat
