"""A status change reads in words on the timeline, written so and reworded when shown if stored before (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.domain import actions
from services.intake.domain.timeline_words import status_change_words, status_label
from services.intake.entrypoints.portal_format import in_words
from services.intake.entrypoints.views import TimelineEntry
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
AGENT = Actor(type="agent", id="a1", name="Ann")


def test_a_status_change_is_written_with_the_statuses_names():
    ticket = {"_id": "T1", "number": "INC-000001", "title": "Slow", "status": "in_progress", "severity": "medium",
              "reporter": {"id": "r1", "name": "Ada"}, "first_response_at": NOW}
    change = actions.change_status(ticket, AGENT, NOW, Status.WAITING_FOR_INFO, "Which browser do you use?")
    entry = change.entries[-1]
    assert entry["detail"] == "Status In Progress → Waiting for Info: Which browser do you use?"
    assert entry["data"]["from_status"] == "in_progress" and entry["data"]["to_status"] == "waiting_for_info"


def test_an_older_status_line_is_shown_in_words_and_keeps_the_reason_as_written():
    stored = TimelineEntry(at=NOW, actor={"type": "agent", "id": "a1", "name": "Ann"}, action="status_changed",
                           detail="Status in_progress → waiting_for_info: Which browser?",
                           data={"from_status": "in_progress", "to_status": "waiting_for_info",
                                 "reason": "Which browser?"})
    assert in_words(stored).detail == "Status In Progress → Waiting for Info: Which browser?"
    no_reason = TimelineEntry(**{**stored.model_dump(), "data": {"from_status": "open", "to_status": "in_progress"},
                                 "detail": "Status open → in_progress"})
    assert in_words(no_reason).detail == "Status Open → In Progress"
    no_data = TimelineEntry(**{**stored.model_dump(), "data": None})
    assert in_words(no_data) == no_data, "nothing to word it from: as stored"


def test_a_value_that_is_no_status_is_shown_as_it_is():
    assert status_label("archived") == "archived"
    assert status_change_words("on_hold", "resolved", None) == "Status On Hold → Resolved"
