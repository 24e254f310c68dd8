"""Intake records notification outcomes on the timeline: failures (internal addresses, endpoints, error
text) and notices to staff are internal entries; only what was sent to the reporter is public."""

from __future__ import annotations

from services.intake.domain.tickets import new_ticket_document
from services.intake.entrypoints.portal_format import in_words
from services.intake.entrypoints.views import TicketView, TimelineEntry
from services.intake.service_layer.event_handlers import record_notification
from shared.clock import FakeClock
from shared.contracts import NotificationDelivered, NotificationFailed, make_envelope
from shared.sla.config import load_service_levels
from tests.factories import REPORTED_AT
from tests.fakes import FakeTickets

CALENDAR = load_service_levels().sla.calendar
LEAK = "SMTP 550: <oncall-service-desk@platform.local> mailbox full via https://pager.internal"


async def timeline_after(*events) -> dict:
    tickets = FakeTickets()
    await tickets.insert(new_ticket_document(ticket_id="T1", number="INC-000001", fields={"title": "Down", "kind": "incident", "type": "infrastructure",
                                                     "description": "all down"},
                                             reporter={"id": "r1", "name": "Ada"}, now=REPORTED_AT, outbox=[]))
    for event in events:
        envelope = make_envelope(event, producer="notifier", occurred_at=REPORTED_AT, ticket_id="T1")
        await record_notification(envelope, event, tickets=tickets, clock=FakeClock(REPORTED_AT))
    return tickets.documents["T1"]


def actions(document: dict, *, staff: bool) -> list[str]:
    view = TicketView.from_document(document, include_internal=staff, now=REPORTED_AT, calendar=CALENDAR)
    return [entry.action for entry in view.timeline]


async def test_a_failed_notification_is_seen_by_agents_and_never_by_the_reporter():
    failed = NotificationFailed(delivery_id="d1", source_event_id="e1", message="escalation_page", channel="email",
                                recipient="service-desk-oncall", attempts=6, error=LEAK, role="on_call")
    document = await timeline_after(failed)
    assert actions(document, staff=True) == ["reported", "notification_failed"]
    assert actions(document, staff=False) == ["reported"]
    reporter_view = TicketView.from_document(document, include_internal=False, now=REPORTED_AT, calendar=CALENDAR)
    assert "oncall-service-desk" not in reporter_view.model_dump_json() and "pager.internal" not in \
        reporter_view.model_dump_json()


async def test_a_failure_of_the_reporters_own_notice_is_internal_too():
    failed = NotificationFailed(delivery_id="d1", source_event_id="e1", message="ticket_received", channel="email",
                                recipient="ada@example.com", attempts=1, error="permanent: SMTP 550", role="reporter")
    assert actions(await timeline_after(failed), staff=False) == ["reported"]


async def test_only_notices_sent_to_the_reporter_are_public():
    to_reporter = NotificationDelivered(delivery_id="d1", source_event_id="e1", message="ticket_received",
                                        channel="email", recipient="ada@example.com", attempts=1, role="reporter")
    page = NotificationDelivered(delivery_id="d2", source_event_id="e1", message="ticket_assigned", channel="webhook",
                                 recipient="service-desk-oncall", attempts=1, role="on_call")
    unknown_role = NotificationDelivered(delivery_id="d3", source_event_id="e1", message="ticket_assigned",
                                         channel="slack", recipient="service-desk-channel", attempts=1)
    document = await timeline_after(to_reporter, page, unknown_role)
    assert actions(document, staff=False) == ["reported", "notification_sent"]
    assert actions(document, staff=True) == ["reported"] + ["notification_sent"] * 3


async def test_a_notice_line_is_in_words_not_the_notifiers_message_key():
    received = NotificationDelivered(delivery_id="d1", source_event_id="e1", message="ticket_received",
                                     channel="email", recipient="ada@example.com", attempts=1, role="reporter")
    new_kind = NotificationDelivered(delivery_id="d2", source_event_id="e1", message="quarterly_review_due",
                                     channel="slack", recipient="service-desk-channel", attempts=1, role="team")
    failed = NotificationFailed(delivery_id="d3", source_event_id="e1", message="escalation_page", channel="webhook",
                                recipient="pager", attempts=6, error="HTTP 503", role="on_call")
    view = TicketView.from_document(await timeline_after(received, new_kind, failed), include_internal=True,
                                    now=REPORTED_AT, calendar=CALENDAR)
    assert [entry.detail for entry in view.timeline[1:]] == [
        "Confirmation that we received the report sent by e-mail",
        "Quarterly review due sent by Slack",
        "Page to the on-call engineer by webhook failed after 6 attempts: HTTP 503"]


def test_an_older_notice_line_stored_with_the_raw_key_is_shown_in_words():
    stored = TimelineEntry(at=REPORTED_AT, actor={"type": "system", "id": "notifier", "name": "notifier"},
                           action="notification_sent", detail="ticket_received sent by email",
                           data={"channel": "email", "message": "ticket_received"})
    assert in_words(stored).detail == "Confirmation that we received the report sent by e-mail"
    without_data = stored.model_copy(update={"data": None})
    assert in_words(without_data) == without_data, "nothing to word it from: as stored"
    by_a_person = TimelineEntry(**{**stored.model_dump(), "actor": {"type": "agent", "id": "a1", "name": "Bo"}})
    assert in_words(by_a_person) == by_a_person, "what people wrote is never rewritten"
