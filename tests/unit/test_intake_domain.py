import pytest
from pydantic import ValidationError

from services.intake.domain.principals import Principal, Role
from services.intake.entrypoints.schemas import TicketCreate
from shared.contracts import Severity, format_number


def test_ticket_numbers_are_short_and_zero_padded():
    assert format_number("INC", 123) == "INC-000123"
    assert format_number("INC", 1234567) == "INC-1234567"
    with pytest.raises(ValueError):
        format_number("INC", 0)


def test_reporters_see_only_their_own_tickets_staff_see_all():
    ticket = {"reporter": {"id": "r1"}}
    assert Principal("r1", Role.REPORTER, "Ada").may_see(ticket)
    assert not Principal("r2", Role.REPORTER, "Bob").may_see(ticket)
    assert Principal("a1", Role.AGENT, "Ann").may_see(ticket)
    assert not Principal("v1", Role.VENDOR, "Acme").may_see(ticket)


@pytest.mark.parametrize(("given", "expected"), [(1, Severity.CRITICAL), ("4", Severity.LOW), ("high", Severity.HIGH)])
def test_severity_accepts_names_and_spec_levels(given, expected):
    body = TicketCreate(title="Slow", type="performance", description="x", severity=given)
    assert body.severity is expected


@pytest.mark.parametrize(
    "extra",
    [{"status": "closed"}, {"$where": "1"}, {"sla": {}}, {"severity": 7}, {"title": "x" * 201}, {"type": "weather"}],
)
def test_bad_or_foreign_fields_are_rejected(extra):
    with pytest.raises(ValidationError):
        TicketCreate.model_validate({"title": "Slow page", "type": "performance", "description": "x", **extra})


def test_a_storm_of_duplicates_adds_only_milestones_to_the_primary_timeline():
    from services.intake.domain.tickets import worth_a_timeline_entry

    noted = [n for n in range(2, 1001) if worth_a_timeline_entry(n)]
    assert noted[:9] == list(range(2, 11))
    assert noted[9:] == [20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]


def test_a_ticket_remembers_only_its_latest_applied_events():
    from services.intake.adapters.combined_changes import APPLIED_EVENTS_KEPT, remember_event

    ticket = {"applied_events": [f"e{i}" for i in range(APPLIED_EVENTS_KEPT)]}
    remembered = remember_event(ticket, "new")
    assert len(remembered) == APPLIED_EVENTS_KEPT and remembered[-1] == "new" and "e0" not in remembered
    assert remember_event({}, "first") == ["first"]
