"""The transition table and what each action does, with a fake clock and no I/O."""

from datetime import UTC, datetime

import pytest

from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused
from services.intake.domain.lifecycle import (
    IllegalTransition,
    Mover,
    allowed_moves,
    check_move,
)
from shared.contracts import Severity, Status
from shared.contracts.lifecycle_events import Actor

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
AGENT = Actor(type="agent", id="a1", name="Ann")
REPORTER = Actor(type="reporter", id="r1", name="Ada")
STRANGER = Actor(type="reporter", id="r2", name="Bob")


def ticket(status="open", **extra):
    return {"_id": "T1", "number": "INC-000001", "title": "Slow", "status": status, "severity": "medium",
            "tier": 2, "team": "technical-support", "reporter": {"id": "r1", "name": "Ada", "email": "ada@example.com"},
            "first_response_at": None, **extra}


@pytest.mark.parametrize(
    ("current", "target", "mover", "legal"),
    [
        (Status.OPEN, Status.IN_PROGRESS, Mover.AGENT, True),
        (Status.OPEN, Status.IN_PROGRESS, Mover.REPORTER, False),
        (Status.IN_PROGRESS, Status.WAITING_FOR_INFO, Mover.AGENT, True),
        (Status.WAITING_FOR_INFO, Status.IN_PROGRESS, Mover.REPORTER, True),
        (Status.ON_HOLD, Status.IN_PROGRESS, Mover.SYSTEM, True),
        (Status.RESOLVED, Status.CLOSED, Mover.REPORTER, True),
        (Status.RESOLVED, Status.CLOSED, Mover.SYSTEM, True),
        (Status.CLOSED, Status.IN_PROGRESS, Mover.REPORTER, False),
        (Status.CLOSED, Status.OPEN, Mover.AGENT, False),
        (Status.OPEN, Status.OPEN, Mover.AGENT, False),
    ],
)
def test_transition_table(current, target, mover, legal):
    if legal:
        check_move(current, target, mover)
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_move(current, target, mover)
        assert caught.value.allowed == allowed_moves(current, mover)
        assert current.value in str(caught.value)


def test_a_reporter_may_only_answer_or_give_feedback():
    assert allowed_moves(Status.WAITING_FOR_INFO, Mover.REPORTER) == [Status.IN_PROGRESS]
    assert allowed_moves(Status.RESOLVED, Mover.REPORTER) == [Status.IN_PROGRESS, Status.CLOSED]
    assert allowed_moves(Status.OPEN, Mover.REPORTER) == []


def test_acknowledge_records_first_response_and_starts_work():
    change = actions.acknowledge(ticket(), AGENT, NOW)
    assert change.fields["status"] == "in_progress"
    assert change.fields["first_response_at"] == NOW
    assert [e.EVENT_TYPE for e in change.events] == ["ticket.status_changed", "ticket.acknowledged"]
    assert change.condition == {"status": "open"}


def test_first_response_is_recorded_once():
    change = actions.comment(ticket("in_progress", first_response_at=NOW), AGENT, NOW, "Looking", internal=False)
    assert "first_response_at" not in change.fields
    assert [e.EVENT_TYPE for e in change.events] == ["ticket.commented"]


def test_internal_notes_do_not_count_as_a_response_and_reporters_cannot_write_them():
    change = actions.comment(ticket("in_progress"), AGENT, NOW, "check logs", internal=True)
    assert change.entries[0]["visibility"] == "internal"
    assert "first_response_at" not in change.fields
    with pytest.raises(ActionRefused):
        actions.comment(ticket("in_progress"), REPORTER, NOW, "x", internal=True)


def test_reporter_answer_resumes_a_waiting_ticket():
    change = actions.comment(ticket("waiting_for_info"), REPORTER, NOW, "Chrome 120", internal=False)
    assert change.fields["status"] == "in_progress"
    assert change.events[-1].EVENT_TYPE == "ticket.status_changed"


def test_asking_for_info_needs_the_question():
    with pytest.raises(ActionRefused, match="reason"):
        actions.change_status(ticket("in_progress"), AGENT, NOW, Status.WAITING_FOR_INFO, None)
    change = actions.change_status(ticket("in_progress"), AGENT, NOW, Status.WAITING_FOR_INFO, "Which browser?")
    assert change.events[0].reason == "Which browser?"


@pytest.mark.parametrize(
    ("feedback", "status", "reopened"),
    [("confirmed_fixed", "closed", None), ("still_has_issues", "in_progress", 1), ("needs_more_info", "in_progress", 1)],
)
def test_feedback_on_a_resolution(feedback, status, reopened):
    change = actions.give_feedback(ticket("resolved"), REPORTER, NOW, feedback, "what about X?")
    assert change.fields["status"] == status
    assert change.fields.get("reopened_count") == reopened
    assert change.events[-1].EVENT_TYPE == "ticket.feedback_received"
    assert change.events[-1].feedback == feedback


def test_feedback_is_only_for_the_reporter_of_a_resolved_ticket():
    with pytest.raises(ActionRefused, match="only the ticket's reporter"):
        actions.give_feedback(ticket("resolved"), STRANGER, NOW, "confirmed_fixed", None)
    with pytest.raises(ActionRefused, match="resolved tickets"):
        actions.give_feedback(ticket("in_progress"), REPORTER, NOW, "confirmed_fixed", None)


def test_resolve_records_the_solution_and_asks_for_feedback():
    change = actions.resolve(ticket("in_progress"), AGENT, NOW, "Cleared the cache")
    assert change.fields["status"] == "resolved"
    assert change.fields["resolution"]["proposed_solution"] == "Cleared the cache"
    assert "ticket.resolved" in [e.EVENT_TYPE for e in change.events]


def test_agent_severity_override_wins_and_is_recorded():
    change = actions.change_severity(ticket(), AGENT, NOW, Severity.CRITICAL, "whole region down")
    assert change.fields == {"severity": "critical", "severity_source": "agent"}
    event = change.events[0]
    assert (event.old_severity, event.new_severity, event.reason) == ("medium", Severity.CRITICAL, "whole region down")
    with pytest.raises(ActionRefused):
        actions.change_severity(ticket(), REPORTER, NOW, Severity.CRITICAL, "please")


def test_priority_bump_must_ask_for_more():
    change = actions.request_priority_bump(ticket(), REPORTER, NOW, "CEO affected", Severity.HIGH)
    assert change.events[0].requested_severity is Severity.HIGH
    with pytest.raises(ActionRefused, match="not higher"):
        actions.request_priority_bump(ticket(), REPORTER, NOW, "meh", Severity.LOW)
