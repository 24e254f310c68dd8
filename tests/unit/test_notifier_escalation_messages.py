"""Escalation's events through the notifier: each event causes the right messages, to the right people, rendered."""

from __future__ import annotations

from datetime import timedelta

from services.notifier.adapters.routing_file import DEFAULT_ROUTING_FILE, load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.messages import REGISTRY
from services.notifier.service_layer.handlers import notify
from shared.clock import FakeClock
from shared.contracts import Reporter, Severity, make_envelope
from shared.contracts.escalation_events import (
    EscalationPageRequested,
    SlaBreached,
    SlaWarning,
    TicketAutoCloseDue,
    TicketEscalated,
    VendorHandoffSent,
    VendorReplyReceived,
)
from shared.contracts.lifecycle_events import Actor, TicketStatusChanged
from shared.messaging.topology import CONSUMER_QUEUES
from tests.factories import REPORTED_AT
from tests.fakes_notifier import FakeDeliveries, RecordingWorker

RENDERER = TemplateRenderer()
TEAMS = ("SERVICE_DESK", "TECHNICAL_SUPPORT", "SENIOR_ENGINEERING", "VENDOR_MANAGEMENT")
ENV = {f"{kind}_{team}_URL": f"http://127.0.0.1:9/{kind.lower()}/{team.lower()}"
       for kind in ("PAGER", "SLACK") for team in TEAMS}
ROUTER = load_router(DEFAULT_ROUTING_FILE, ENV, RENDERER.exists)
ADA = Reporter(id="r1", name="Ada Lovelace", email="ada@example.com")
FACTS = dict(ticket_id="t1", number="INC-000042", severity=Severity.HIGH, tier=2, team="technical-support",
             reporter=ADA)
NOW = REPORTED_AT


async def deliveries(event) -> list[dict]:
    """Return the delivery documents the notifier's handler stores for one event, in creation order."""
    store = FakeDeliveries()
    envelope = make_envelope(event, producer="escalation", occurred_at=NOW, ticket_id=event.ticket_id)
    await notify(envelope, event, entry=REGISTRY[event.EVENT_TYPE], router=ROUTER, renderer=RENDERER,
                 deliveries=store, clock=FakeClock(NOW), worker=RecordingWorker())
    return list(store.records.values())


def routed(docs: list[dict]) -> set[tuple[str, str, str, str]]:
    """Return (message, role, channel, recipient) of each delivery."""
    return {(d["message"], d["role"], d["channel"], d["recipient"]) for d in docs}


def escalated(**overrides) -> TicketEscalated:
    values = dict(FACTS, tier=2, team="technical-support", from_tier=1, to_tier=2, from_team="service-desk",
                  trigger="production", reason="the production environment is affected",
                  previous_number="INC-000042", handoff_due_at=NOW + timedelta(hours=2), escalated_at=NOW)
    return TicketEscalated(**{**values, **overrides})


def test_the_notifier_queue_is_bound_to_every_event_it_translates():
    assert set(REGISTRY) <= set(CONSUMER_QUEUES["notifier"].routing_keys)


async def test_escalation_tells_the_reporter_the_promise_and_pages_the_new_on_call():
    docs = await deliveries(escalated())
    assert routed(docs) == {
        ("escalated", "reporter", "email", "ada@example.com"),
        ("escalation_page", "on_call", "webhook", "technical-support-oncall"),
        ("escalation_page", "on_call", "email", "technical-support-oncall"),
    }
    [mail] = [d for d in docs if d["message"] == "escalated"]
    text = mail["content"]["text"]
    assert "within 2 hours" in text and "2026-01-05 11:00 UTC" in text and "Tier 1 to Tier 2" in text
    assert "new number" not in text
    [page] = [d for d in docs if d["channel"] == "webhook"]
    assert page["content"]["text"].startswith("PAGE INC-000042 [High] for technical-support Tier 2 (on_call)")


async def test_a_new_number_is_in_the_subject_and_the_text():
    docs = await deliveries(escalated(number="ESC-000001", new_number="ESC-000001", tier=4, team="vendor-management",
                                      to_tier=4, trigger="third_party", reason="component payments-gateway is third-party"))
    [mail] = [d for d in docs if d["message"] == "escalated"]
    assert mail["content"]["subject"] == "Your ticket INC-000042 was escalated: new number ESC-000001"
    assert "It now has a new number: ESC-000001" in mail["content"]["text"]
    assert ("escalation_page", "on_call", "webhook", "vendor-management-oncall") in routed(docs)


def page(role: str, attempt: int = 2) -> EscalationPageRequested:
    return EscalationPageRequested(**FACTS, page_id="t1-p1", role=role, attempt=attempt, max_attempts=4,
                                   reason="page not acknowledged", requested_at=NOW)


async def test_a_page_goes_only_to_the_role_it_names():
    assert routed(await deliveries(page("on_call"))) == {
        ("escalation_page", "on_call", "webhook", "technical-support-oncall"),
        ("escalation_page", "on_call", "email", "technical-support-oncall")}
    lead = await deliveries(page("lead"))
    assert routed(lead) == {("escalation_page", "lead", "email", "technical-support-lead")}
    assert "attempt 2 of 4" in lead[0]["content"]["subject"] and "as lead of technical-support" in lead[0]["content"]["text"]
    assert routed(await deliveries(page("team"))) == {
        ("escalation_page", "team", "slack", "technical-support-channel")}
    assert await deliveries(page("nobody")) == []


async def test_sla_warnings_go_to_the_team_channel_and_breaches_to_the_lead():
    warning = SlaWarning(**FACTS, target="response", due_at=NOW + timedelta(hours=1), fraction=0.75, at=NOW)
    [doc] = await deliveries(warning)
    assert (doc["message"], doc["role"], doc["channel"]) == ("sla_warning", "team", "slack")
    assert "used 75% of its first response time; due 2026-01-05 10:00 UTC" in doc["content"]["text"]
    breach = SlaBreached(**FACTS, target="handoff", due_at=NOW, at=NOW + timedelta(minutes=1))
    [doc] = await deliveries(breach)
    assert (doc["message"], doc["role"], doc["channel"], doc["address"]) == (
        "sla_breached", "lead", "email", "lead-technical-support@platform.local")
    assert doc["content"]["subject"] == "SLA breached: hand-off contact target of INC-000042 [High] missed"


async def test_vendor_hand_offs_go_to_vendor_management_and_answers_to_the_reporter():
    tier4 = dict(FACTS, tier=4, team="vendor-management")
    sent = VendorHandoffSent(**tier4, vendor_id="acme", vendor_name="ACME Cloud Services", handoff_id="t1-v1",
                             routing_key="vendor.acme.handoff", answer_due_at=NOW + timedelta(hours=4), sent_at=NOW)
    [doc] = await deliveries(sent)
    assert (doc["message"], doc["recipient"], doc["channel"]) == ("vendor_handoff", "vendor-management-channel", "slack")
    assert "handed to ACME Cloud Services" in doc["content"]["text"] and "13:00 UTC" in doc["content"]["text"]

    def reply(kind: str) -> VendorReplyReceived:
        return VendorReplyReceived(**tier4, vendor_id="acme", vendor_name="ACME Cloud Services", handoff_id="t1-v1",
                                   reply_id=f"r-{kind}", kind=kind, note="Which account ID is affected?", received_at=NOW)

    [doc] = await deliveries(reply("need_info"))
    assert (doc["message"], doc["role"], doc["address"]) == ("vendor_update", "reporter", "ada@example.com")
    assert "ACME Cloud Services" in doc["content"]["subject"] and "Which account ID" in doc["content"]["text"]
    assert "Please answer on the ticket" in doc["content"]["text"]
    [doc] = await deliveries(reply("resolved"))
    assert "reports the issue resolved" in doc["content"]["text"]
    assert await deliveries(reply("acknowledged")) == [] and await deliveries(reply("update")) == []


def status_changed(actor: Actor, before: str, after: str) -> TicketStatusChanged:
    return TicketStatusChanged(ticket_id="t1", number="INC-000042", title="Checkout is slow", actor=actor, at=NOW,
                               status=after, from_status=before, reporter=ADA,
                               reason="no feedback within 5 business days of the resolution; closed automatically")


async def test_auto_close_is_announced_once_intake_closed_the_ticket():
    system = Actor(type="system", id="escalation", name="escalation")
    [doc] = await deliveries(status_changed(system, "resolved", "closed"))
    assert (doc["message"], doc["address"]) == ("auto_closed", "ada@example.com")
    assert "closed automatically" in doc["content"]["text"] and "Checkout is slow" in doc["content"]["subject"]
    agent = Actor(type="agent", id="a1", name="Ann Agent")
    [doc] = await deliveries(status_changed(agent, "resolved", "closed"))
    assert doc["message"] == "status_changed"
    # escalation's ticket.auto_close_due is only the request: intake may still skip it, so no notice from it
    assert TicketAutoCloseDue.EVENT_TYPE not in REGISTRY
