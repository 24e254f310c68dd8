from datetime import timedelta

import pytest

from shared.clock import FakeClock
from shared.contracts import Severity, TicketTriaged
from shared.messaging.consumer import PermanentError
from services.escalation.clockwork import Clockwork
from services.escalation.adapters.policy_file import load_policy as load_escalation_policy
from services.escalation.handlers import handlers as escalation_handlers
from services.intake.domain.tickets import new_ticket_document
from services.intake.handlers import apply_triage
from services.triage.handlers import triage_reported_ticket
from services.triage.rules_file import load_policy
from tests.factories import REPORTED_AT, envelope_for, reported, triaged
from tests.fakes import FakeClocks, FakeDecisions, FakeFingerprintGroups, FakeTickets


async def test_triage_emits_triaged_with_due_times_from_the_report_time():
    clock = FakeClock(REPORTED_AT + timedelta(seconds=3))
    event = reported(reported_severity=Severity.HIGH)
    [out] = await triage_reported_ticket(
        envelope_for(event), event, policy=load_policy(), decisions=FakeDecisions(), groups=FakeFingerprintGroups(), clock=clock
    )
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
    work = Clockwork(clocks, load_escalation_policy(), FakeClock())
    handle = escalation_handlers(work)["ticket.triaged"]
    first = triaged()
    await handle(envelope_for(first), first)
    again = first.model_copy(update={"response_due_at": REPORTED_AT + timedelta(days=9)})
    await handle(envelope_for(again), again)
    assert clocks.clocks[first.ticket_id]["targets"]["response"]["due_at"] == first.response_due_at
    assert clocks.clocks[first.ticket_id]["next_due_at"] == REPORTED_AT + timedelta(minutes=10)  # the high-severity page repeat
