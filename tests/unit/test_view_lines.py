"""The compact SLA line of a ticket: what the SLA report and dashboard read, and only that (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.views import parse_sla_line, projection, sla_line

CREATED = datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC)


def ticket(**fields) -> dict:
    return {"_id": "01TEST", "number": "INC-000001", "title": "Export fails", "status": "open",
            "reporter": {"id": "r1", "name": "Ada"}, "created_at": CREATED, **fields}


def test_a_line_gives_back_severity_outcomes_and_the_creation_time_to_the_millisecond():
    line = sla_line(ticket(severity="high", sla_response={"severity": "critical", "outcome": "breached",
                                                          "elapsed_seconds": 7200.25}))
    parsed = parse_sla_line(line)
    assert parsed["created_at"] == CREATED.replace(microsecond=123000)  # as the database stores it
    assert parsed["severity"] == "high"
    assert parsed["sla_response"] == {"severity": "critical", "outcome": "breached", "elapsed_seconds": 7200.25}
    assert "sla_resolution" not in parsed and "escalations" not in parsed


def test_an_untriaged_ticket_has_no_severity_and_no_outcomes():
    parsed = parse_sla_line(sla_line(ticket()))
    assert parsed == {"created_at": CREATED.replace(microsecond=123000), "severity": None}


def test_tier_moves_and_the_vendor_hand_off_survive_even_with_bars_in_their_text():
    handed = CREATED + timedelta(hours=2)
    parsed = parse_sla_line(sla_line(ticket(
        severity="critical",
        escalations=[{"at": CREATED + timedelta(hours=1), "from_tier": 1, "to_tier": 3, "trigger": "breach|response"}],
        vendor={"id": "acme", "name": "Acme | Cloud", "handed_at": handed, "answer_due_at": handed + timedelta(hours=4),
                "answered_at": handed + timedelta(minutes=30)})))
    assert parsed["escalations"] == [{"at": CREATED + timedelta(hours=1), "from_tier": 1, "to_tier": 3,
                                      "trigger": "breach|response"}]
    assert parsed["vendor_answer"]["name"] == "Acme | Cloud"
    assert parsed["vendor_answer"]["answered_at"] - parsed["vendor_answer"]["handed_at"] == timedelta(minutes=30)


def test_a_line_cut_short_is_refused():
    with pytest.raises(ValueError, match="at least 8 fields"):
        parse_sla_line("1793491200000|high|")


def test_every_ticket_has_a_line_in_its_day_document():
    assert projection(ticket(severity="low"))["sla:2026-11-01"] == sla_line(ticket(severity="low"))
