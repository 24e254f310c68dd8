"""Intake applies escalation's events on the real database: auto-close, vendor answers, escalations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.intake.adapters.tickets import MongoTickets, unpacked
from services.intake.domain.tickets import new_ticket_document
from services.intake.service_layer.escalation_event_handlers import HANDLERS
from shared.clock import FakeClock
from shared.contracts import Reporter, make_envelope
from shared.contracts.escalation_events import (
    TicketAutoCloseDue,
    TicketEscalated,
    VendorReplyReceived,
)
from shared.ids import new_id
from tests.factories import REPORTED_AT

pytestmark = pytest.mark.integration
FACTS = {"number": "INC-000007", "reporter": Reporter(id="r1", name="Ada")}


async def ticket(tickets: MongoTickets, status: str, number: str = "INC-000007") -> str:
    ticket_id = new_id()
    document = new_ticket_document(ticket_id=ticket_id, number=number, fields={"title": "Export fails"},
                                   reporter={"id": "r1", "name": "Ada"}, now=REPORTED_AT, outbox=[])
    document.update(status=status, tier=2, team="technical-support")
    await tickets.insert(document)
    return ticket_id


async def deliver(tickets: MongoTickets, payload, times: int = 2) -> None:
    envelope = make_envelope(payload, producer="escalation", occurred_at=REPORTED_AT, ticket_id=payload.ticket_id)
    for _ in range(times):
        await HANDLERS[envelope.event_type](envelope, payload, tickets=tickets, clock=FakeClock(REPORTED_AT))


async def test_auto_close_closes_a_still_resolved_ticket_once_by_system(db):
    tickets = MongoTickets(db)
    resolved, reopened = await ticket(tickets, "resolved"), await ticket(tickets, "in_progress", "INC-000008")
    for ticket_id in (resolved, reopened):
        await deliver(tickets, TicketAutoCloseDue(ticket_id=ticket_id, **FACTS, resolved_at=REPORTED_AT,
                                                  business_days=5, due_at=REPORTED_AT + timedelta(days=7)))
    closed = unpacked(await db.tickets.find_one({"_id": resolved}))
    assert closed["status"] == "closed"
    assert [e["event_type"] for e in closed["outbox"]] == ["ticket.status_changed"]
    [move] = [e for e in closed["timeline"] if e["action"] == "status_changed"]
    assert move["actor"]["type"] == "system" and "5 business days" in move["detail"]
    left = unpacked(await db.tickets.find_one({"_id": reopened}))
    assert left["status"] == "in_progress" and left["outbox"] == []


async def test_vendor_need_info_asks_the_reporter_and_escalation_adopts_the_new_number(db):
    tickets = MongoTickets(db)
    ticket_id = await ticket(tickets, "in_progress")
    await deliver(tickets, TicketEscalated(
        ticket_id=ticket_id, **FACTS, tier=4, team="vendor-management", from_tier=2, to_tier=4, trigger="third_party",
        reason="component payments-gateway is third-party", previous_number="INC-000007", new_number="ESC-000001",
        handoff_due_at=REPORTED_AT + timedelta(hours=2), vendor_id="acme", escalated_at=REPORTED_AT))
    await deliver(tickets, VendorReplyReceived(
        ticket_id=ticket_id, **{**FACTS, "number": "ESC-000001"}, vendor_id="acme", vendor_name="ACME",
        handoff_id="h1", reply_id="r1", kind="need_info", note="Which merchant id?", received_at=REPORTED_AT))
    document = unpacked(await db.tickets.find_one({"_id": ticket_id}))
    assert (document["number"], document["previous_numbers"], document["tier"]) == ("ESC-000001", ["INC-000007"], 4)
    assert document["status"] == "waiting_for_info"
    assert [e["event_type"] for e in document["outbox"]] == ["ticket.status_changed"]
    assert [e["action"] for e in document["timeline"]].count("vendor_reply") == 1


async def test_the_old_number_still_finds_a_ticket_renumbered_on_escalation(db):
    tickets = MongoTickets(db)
    ticket_id = await ticket(tickets, "in_progress")
    await deliver(tickets, TicketEscalated(
        ticket_id=ticket_id, **FACTS, tier=4, team="vendor-management", from_tier=2, to_tier=4, trigger="third_party",
        reason="component payments-gateway is third-party", previous_number="INC-000007", new_number="ESC-000002",
        handoff_due_at=REPORTED_AT + timedelta(hours=2), vendor_id="acme", escalated_at=REPORTED_AT))
    by_new, by_old = await tickets.by_number("ESC-000002"), await tickets.by_number("INC-000007")
    assert by_new is not None and by_old is not None
    assert by_new["_id"] == by_old["_id"] == ticket_id
    assert by_old["number"] == "ESC-000002" and by_old["previous_numbers"] == ["INC-000007"]
