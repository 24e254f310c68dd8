"""The console and the portal say every time in UTC words: triage lines stored with a raw ISO due time, and the other services' times."""

from datetime import UTC, datetime

from services.intake.domain.tickets import new_ticket_document, triage_changes
from services.intake.entrypoints.console_ticket import with_times
from services.intake.entrypoints.console_web import instant
from services.intake.entrypoints.portal_format import in_words
from services.intake.entrypoints.portal_tickets import public_timeline
from services.intake.entrypoints.views import TicketView, TimelineEntry
from shared.clock import FakeClock
from shared.sla.config import load_service_levels
from tests.factories import triaged

CALENDAR = load_service_levels().sla.calendar
NOW = FakeClock(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)).now()


def line(action: str, detail: str, actor_type: str = "system") -> TimelineEntry:
    return TimelineEntry(at=NOW, actor={"type": actor_type, "id": "x", "name": "X"}, action=action, detail=detail)


def test_a_triage_line_stored_with_an_iso_due_time_is_shown_in_the_timelines_words():
    stored = line("triaged", "Triaged as critical (500 users); routed to Tier 3 senior-engineering; "
                             "response due 2026-12-01T07:41:08.824000+00:00")
    assert in_words(stored).detail.endswith("response due Tue 1 Dec 07:41 UTC")
    assert in_words(line("triaged", "response due 2026-12-01T09:41:08+02:00")).detail == "response due Tue 1 Dec 07:41 UTC"
    assert in_words(line("triaged", "due 2026-13-01T07:41Z")).detail == "due 2026-13-01T07:41Z", "not a time: as written"
    comment = line("commented", "Deploy at 2026-12-01T07:41:08+00:00 broke it", actor_type="agent")
    assert in_words(comment) == comment, "what people wrote is never rewritten"


def test_triage_now_writes_its_due_time_in_words():
    event = triaged(response_due_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    _, entry = triage_changes({"_id": "T1", "status": "open"}, event, NOW)
    assert entry["detail"].endswith("response due Tue 1 Dec 09:30 UTC")


def test_other_services_times_are_read_as_utc_instants_or_left_out():
    assert instant("2026-12-01T07:41:08.824Z") == datetime(2026, 12, 1, 7, 41, 8, 824000, tzinfo=UTC)
    assert instant("2026-12-01T07:41:08") == datetime(2026, 12, 1, 7, 41, 8, tzinfo=UTC), "no zone named: UTC"
    assert instant("yesterday") is None and instant(None) is None and instant(1733000000) is None
    deliveries = with_times([{"message": "ticket_received", "attempts": [{"at": "2026-12-01T07:41:08+00:00"},
                                                                        {"at": "soon"}, "junk"]}, "junk"])
    assert [a["at"] for a in deliveries[0]["attempts"]] == [datetime(2026, 12, 1, 7, 41, 8, tzinfo=UTC), None]
    assert len(deliveries) == 1


def test_the_reporters_ticket_page_words_an_older_triage_lines_due_time_too():
    document = new_ticket_document(ticket_id="T1", number="INC-000001", fields={"title": "Down", "kind": "incident", "type": "infrastructure", "description": "all down"},
                                   reporter={"id": "r1", "name": "Ada"}, now=NOW, outbox=[])
    document["timeline"].append({"at": NOW, "actor": {"type": "system", "id": "triage", "name": "triage"},
                                 "action": "triaged", "visibility": "public",
                                 "detail": "Triaged as high; response due 2026-12-01T07:41:08.824000+00:00"})
    view = TicketView.from_document(document, include_internal=False, now=NOW, calendar=CALENDAR)
    assert public_timeline(view)[0].detail == "Triaged as high; response due Tue 1 Dec 07:41 UTC"
