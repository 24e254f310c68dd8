"""Fake-clock scenarios of escalation: triggers, tiers, hand-off clock, pages, vendors, auto-close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.domain.inbound import RejectedReply, on_vendor_reply
from shared.contracts import IncidentType, NotificationFailed, Severity
from shared.contracts.escalation_events import VendorHandoff, VendorReply
from shared.contracts.triage_events import TicketReclassified
from tests.escalation_harness import REPORTER, Scenario

H, M = timedelta(hours=1), timedelta(minutes=1)


def escalations(s: Scenario) -> list[tuple[int, int, str, str | None]]:
    return [(e["from_tier"], e["to_tier"], e["trigger"], e["new_number"]) for e in s.events("ticket.escalated")]


async def test_missed_response_escalates_tier_1_to_2_and_starts_the_handoff_clock():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM)  # Tier 1, service-desk
    await s.at(60 * M)
    assert escalations(s) == [(1, 2, "response_breached", None)]
    [escalated] = s.events("ticket.escalated")
    assert escalated["team"] == "technical-support" and escalated["from_team"] == "service-desk"
    assert escalated["handoff_due_at"].startswith("2026-01-05T12:00")
    assert "response target" in escalated["reason"]
    handoff = lambda keys: [k for k in keys if k.startswith("handoff")]  # noqa: E731 - pages repeat meanwhile
    assert handoff(await s.at(60 * M + 90 * M)) == ["handoff.0.warning.75"]
    assert handoff(await s.at(60 * M + 108 * M)) == ["handoff.0.warning.90"]
    assert handoff(await s.at(3 * H)) == ["handoff.0.breached"]
    assert s.events("sla.breached")[-1]["target"] == "handoff"
    assert s.events("escalation.page_requested")[-1]["role"] == "lead"


async def test_next_agent_response_stops_the_handoff_clock_internal_notes_do_not():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM)
    await s.at(60 * M)
    await s.comment("internal")
    assert s.doc()["clocks"]["handoff"]["state"] == "running"
    await s.comment("public")
    assert s.doc()["clocks"]["handoff"]["state"] == "stopped"
    assert not [k for k in await s.at(10 * H) if k.startswith("handoff")]


async def test_missed_resolution_escalates_and_a_policy_can_issue_new_numbers_at_tier_3():
    from dataclasses import replace

    from tests.factories import escalation_policy

    s = Scenario(policy=replace(escalation_policy(), new_number_tiers=frozenset({3, 4})))
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.acknowledge()
    await s.at(8 * H)
    assert escalations(s) == [(2, 3, "resolution_breached", "ESC-000001")]
    assert s.doc()["number"] == "ESC-000001" and s.doc()["previous_numbers"] == ["INC-000001"]
    assert s.events("ticket.escalated")[0]["previous_number"] == "INC-000001"


async def test_failed_resolution_feedback_escalates():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM)
    await s.acknowledge()
    await s.move("in_progress", "resolved")
    await s.feedback("still_has_issues")
    assert escalations(s) == [(1, 2, "still_has_issues", None)]
    assert "initial resolution attempt failed" in s.events("ticket.escalated")[0]["reason"]


async def test_production_at_tier_1_moves_to_tier_2():
    s = Scenario()
    await s.open(report={"production": True}, severity=Severity.MEDIUM)
    assert escalations(s) == [(1, 2, "production", None)]


async def test_production_at_tier_2_does_not_move():
    s = Scenario()
    await s.open(report={"production": True}, severity=Severity.MEDIUM, tier=2, team="technical-support")
    assert escalations(s) == []


async def test_security_moves_to_tier_3():
    s = Scenario()
    await s.open(report={"type": IncidentType.SECURITY}, severity=Severity.MEDIUM)
    assert escalations(s) == [(1, 3, "security", None)]


async def test_severity_increase_during_investigation_escalates():
    s = Scenario()
    ticket_id = await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.send(TicketReclassified(
        ticket_id=ticket_id, number="INC-000001", old_severity=Severity.MEDIUM, severity=Severity.HIGH,
        trigger="growth", escalation_trigger=True, rule="high-significant-users", reason="40 users affected",
        old_tier=2, tier=2, old_team="technical-support", team="technical-support", changed_at=s.clock.now(),
        old_response_due_at=s.start + 4 * H, response_due_at=s.start + H, old_resolution_due_at=s.start + 24 * H,
        resolution_due_at=s.start + 8 * H, response_target="1 hour", resolution_target="8 hours",
        spent_seconds=0, paused_seconds=0))
    assert escalations(s) == [(2, 3, "reclassified", None)]


async def test_a_trigger_at_the_top_tier_pages_the_lead_instead():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=3, team="senior-engineering")
    await s.acknowledge()
    await s.move("in_progress", "resolved")
    await s.feedback("still_has_issues")
    assert escalations(s) == []
    assert s.events("escalation.page_requested")[-1]["role"] == "lead"


async def test_unacknowledged_pages_repeat_every_10_minutes_up_to_3_times():
    s = Scenario()
    await s.open(severity=Severity.CRITICAL, tier=3, team="senior-engineering",
                 response_due_at=s.start + 15 * M, resolution_due_at=s.start + 4 * H)
    for minute in (10, 20, 30, 40, 50):
        await s.at(minute * M)
    pages = s.events("escalation.page_requested")
    repeats = [p for p in pages if "not acknowledged" in p["reason"]]
    assert [p["attempt"] for p in repeats] == [2, 3, 4] and {p["role"] for p in repeats} == {"on_call"}


async def test_acknowledging_stops_the_pages():
    s = Scenario()
    await s.open(severity=Severity.CRITICAL, tier=3, team="senior-engineering",
                 response_due_at=s.start + 15 * M, resolution_due_at=s.start + 4 * H)
    await s.at(10 * M)
    await s.acknowledge()
    await s.at(60 * M)
    assert len(s.events("escalation.page_requested")) == 1


async def test_an_undeliverable_page_goes_to_the_next_contact_and_finally_escalates():
    s = Scenario()
    ticket_id = await s.open(severity=Severity.HIGH)

    def failed(role: str, n: int, channel: str = "webhook") -> NotificationFailed:
        # the first page is ticket_assigned (to on_call); later ones are escalation_page events of their own
        message, source = ("ticket_assigned", "e1") if role == "on_call" else ("escalation_page", f"page-{role}")
        return NotificationFailed(delivery_id=f"d{n}", source_event_id=source, message=message,
                                  channel=channel, recipient=f"{role}@x", attempts=6, error="HTTP 503", role=role)

    class Envelope:  # the handler reads ticket_id from the envelope for notification.failed
        pass

    from shared.contracts import make_envelope

    async def send(payload):
        envelope = make_envelope(payload, producer="notifier", occurred_at=s.clock.now(), ticket_id=ticket_id)
        await s.handlers["notification.failed"](envelope, payload)

    await send(failed("on_call", 1))
    await send(failed("on_call", 1))  # the same failed delivery again: ignored
    await send(failed("lead", 2))
    await send(failed("lead", 5, channel="email"))  # the same page failed on its other channel: the chain moves once
    await send(NotificationFailed(delivery_id="d6", source_event_id="e1", message="ticket_assigned", channel="slack",
                                  recipient="team-channel", attempts=6, error="HTTP 404", role="team"))
    assert [p["role"] for p in s.events("escalation.page_requested")] == ["lead", "team"]
    await send(failed("team", 3))
    assert escalations(s) == [(1, 2, "page_undeliverable", None)]
    await send(NotificationFailed(delivery_id="d4", source_event_id="e1", message="ticket_received", channel="email",
                                  recipient="ada@x", attempts=6, error="550", role="reporter"))
    assert len(s.events("escalation.page_requested")) == 2, "only pages walk the contact chain"


async def test_third_party_component_hands_to_the_vendor_who_must_answer_in_time():
    s = Scenario()
    await s.open(report={"component": "payments-gateway"}, severity=Severity.HIGH, tier=2, team="technical-support")
    assert escalations(s) == [(2, 4, "third_party", "ESC-000001")]
    doc = s.doc()
    [item] = doc["vendor_outbox"]
    assert item["routing_key"] == "vendor.acme.handoff"
    handoff = VendorHandoff.model_validate(item["body"])
    assert handoff.reply_routing_key == "vendor.acme.reply" and handoff.ticket.number == "ESC-000001"
    assert s.events("vendor.handoff_sent")[0]["answer_due_at"].startswith("2026-01-05T13:00")
    await s.at(4 * H)
    assert escalations(s)[-1] == (4, 3, "vendor_unresponsive", None)
    assert "did not answer" in s.events("ticket.escalated")[-1]["reason"]


async def test_vendor_replies_are_applied_once_and_unknown_handoffs_rejected():
    s = Scenario()
    ticket_id = await s.open(severity=Severity.HIGH, tier=4, team="vendor-management")
    handoff = VendorHandoff.model_validate(s.doc()["vendor_outbox"][0]["body"])
    reply = VendorReply(reply_id="r1", handoff_id=handoff.handoff_id, vendor_id="acme", ticket_id=ticket_id,
                        kind="acknowledged", note="on it", sent_at=s.clock.now())
    for _ in range(2):
        await s.work.apply(ticket_id, "vendor-reply:r1", lambda d, c, f: on_vendor_reply(d, reply, c, f))
    assert [e["kind"] for e in s.events("vendor.reply_received")] == ["acknowledged"]
    assert s.doc()["vendor"]["answer_due_at"] == s.start + 24 * H  # update_hours after an answer
    resolved = reply.model_copy(update={"reply_id": "r2", "kind": "resolved", "note": "fixed upstream"})
    await s.work.apply(ticket_id, "vendor-reply:r2", lambda d, c, f: on_vendor_reply(d, resolved, c, f))
    assert s.doc()["vendor"]["answer_due_at"] is None
    stranger = reply.model_copy(update={"reply_id": "r3", "handoff_id": "nope"})
    with pytest.raises(RejectedReply, match="not the current hand-off"):
        await s.work.apply(ticket_id, "vendor-reply:r3", lambda d, c, f: on_vendor_reply(d, stranger, c, f))


async def test_resolved_without_feedback_is_auto_closed_after_5_business_days():
    monday = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)
    s = Scenario(start=monday)
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.acknowledge()
    await s.move("in_progress", "resolved")
    # Monday 19 January 2026 is Martin Luther King Jr. Day, a US holiday in the packaged calendar
    assert not [k for k in await s.at(timedelta(days=7, hours=23)) if k.startswith("autoclose")]
    assert [k for k in await s.at(timedelta(days=8)) if k.startswith("autoclose")]  # Tuesday 13:00
    [due] = s.events("ticket.auto_close_due")
    assert due["business_days"] == 5 and due["due_at"].startswith("2026-01-20T13:00")


async def test_feedback_or_reopen_cancels_the_auto_close():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.acknowledge()
    await s.move("in_progress", "resolved")
    await s.move("resolved", "in_progress", actor=REPORTER)
    await s.at(timedelta(days=30))
    assert s.events("ticket.auto_close_due") == []


def test_the_asyncapi_document_matches_the_vendor_contracts():
    from pathlib import Path

    import yaml

    from shared.contracts.escalation_events import VendorHandoff

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "asyncapi-vendor.yaml").read_text())
    schemas = spec["components"]["schemas"]
    for model in (VendorHandoff, VendorReply):
        documented = set(schemas[model.__name__]["properties"])
        assert documented == set(model.model_fields), model.__name__
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        assert required <= set(schemas[model.__name__]["required"]), model.__name__
    example = spec["components"]["messages"]["VendorReply"]["examples"][0]["payload"]
    assert VendorReply.model_validate(example).kind == "resolved"
    assert VendorHandoff.model_validate(spec["components"]["messages"]["VendorHandoff"]["examples"][0]["payload"])


async def test_an_agent_escalates_to_the_tier_asked_for_with_the_policys_hand_off_and_new_number():
    from shared.contracts.lifecycle_events import TicketEscalationRequested

    s = Scenario()
    await s.open(severity=Severity.MEDIUM)  # Tier 1
    await s.send(s.change(TicketEscalationRequested, to_tier=4, reason="the payment provider is down"))
    assert escalations(s) == [(1, 4, "agent", "ESC-000001")], "Tier 4 gets its own number, as any move there"
    [escalated] = s.events("ticket.escalated")
    assert escalated["reason"] == "Ann Agent: the payment provider is down"
    assert s.doc()["clocks"]["handoff"]["state"] == "running"
    await s.send(s.change(TicketEscalationRequested, to_tier=2, reason="sent twice from an old page"))
    assert len(escalations(s)) == 1, "a tier the ticket already passed moves nothing"


async def test_an_agent_escalation_of_a_finished_ticket_moves_nothing():
    from shared.contracts.lifecycle_events import TicketEscalationRequested

    s = Scenario()
    await s.open(severity=Severity.MEDIUM)
    await s.acknowledge()
    await s.move("in_progress", "resolved")
    await s.send(s.change(TicketEscalationRequested, status="resolved", to_tier=3, reason="late"))
    assert escalations(s) == []
