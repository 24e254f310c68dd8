"""Fake-clock scenarios of the SLA clocks: warnings, breaches, pauses, stops, reopen, business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts import Severity
from shared.contracts.triage_events import TicketReclassified
from tests.escalation_harness import Scenario

H, M = timedelta(hours=1), timedelta(minutes=1)


def sla(s: Scenario, target: str | None = None) -> list[tuple[str, str, float]]:
    """Return (type, target, fraction) of the SLA events owed so far."""
    found = [(e["event_type"], e["payload"]) for e in s.store.events() if e["event_type"] in ("sla.warning", "sla.breached")]
    return [(t, p["target"], p["fraction"]) for t, p in found if target is None or p["target"] == target]


async def test_response_clock_warns_at_75_and_90_percent_then_breaches_once():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    assert await s.at(44 * M) == []
    assert await s.at(45 * M) == ["response.0.warning.75"]
    assert await s.at(54 * M) == ["response.0.warning.90"]
    assert await s.at(60 * M) == ["response.0.breached"]
    assert await s.at(60 * M) == [], "a step fires once"
    assert sla(s, "response") == [("sla.warning", "response", 0.75), ("sla.warning", "response", 0.9),
                                  ("sla.breached", "response", 1.0)]
    [breach] = s.events("sla.breached")
    assert breach["due_at"].startswith("2026-01-05T10:00") and breach["team"] == "technical-support"
    assert breach["reporter"]["name"] == "Ada" and breach["number"] == "INC-000001"


async def test_first_human_response_stops_the_response_clock_but_not_resolution():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.at(30 * M)
    await s.acknowledge()
    await s.at(7 * H)
    assert sla(s, "response") == []
    assert sla(s, "resolution") == [("sla.warning", "resolution", 0.75)]  # 6 h of 8
    await s.at(8 * H)
    assert [t for t, _, _ in sla(s, "resolution")] == ["sla.warning", "sla.warning", "sla.breached"]


async def test_waiting_for_info_pauses_and_credits_the_paused_time_back():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.at(30 * M)
    await s.move("open", "waiting_for_info")
    assert await s.at(5 * H) == [], "nothing is due while the ticket waits for the reporter"
    await s.move("waiting_for_info", "in_progress", actor=s_reporter())
    doc = s.doc()
    assert doc["clocks"]["response"]["due_at"] == s.start + 5 * H + 30 * M  # 30 min were left
    assert doc["clocks"]["resolution"]["due_at"] == s.start + 12 * H + 30 * M
    assert doc["paused_seconds"] == 4.5 * 3600
    assert await s.at(5 * H + 14 * M) == []
    assert await s.at(5 * H + 15 * M) == ["response.0.warning.75"]  # 45 min of active time


async def test_on_hold_pauses_too_and_a_breach_does_not_follow_the_return():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.acknowledge()
    await s.at(7 * H)  # resolution 75% warned at 6 h
    await s.move("in_progress", "on_hold")
    await s.at(30 * H)
    await s.move("on_hold", "in_progress")
    assert await s.at(30 * H) == [], "coming back from hold does not breach at once"
    assert await s.at(30 * H + 12 * M) == ["resolution.0.warning.90"]
    assert await s.at(31 * H) == ["resolution.0.breached"]


async def test_resolution_clock_stops_at_resolved_and_runs_again_on_reopen():
    s = Scenario()
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    await s.acknowledge()
    await s.at(4 * H)
    await s.move("in_progress", "resolved")
    assert await s.at(20 * H) == []
    await s.move("resolved", "in_progress", actor=s_reporter())
    assert s.doc()["clocks"]["resolution"]["due_at"] == s.start + 24 * H  # 4 h were left
    assert await s.at(24 * H) == ["resolution.0.warning.75", "resolution.0.warning.90", "resolution.0.breached"]


async def test_business_day_targets_count_only_working_time():
    friday = datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    s = Scenario(start=friday)
    calendar = s.policy.calendar
    due = calendar.add_business_days(friday, 1)
    assert due == datetime(2026, 1, 12, 16, 0, tzinfo=UTC)
    await s.open(severity=Severity.LOW, tier=1, team="service-desk", response_due_at=due,
                 resolution_due_at=calendar.add_business_days(friday, 5))
    assert await s.at(timedelta(days=2)) == [], "the weekend does not count"
    assert await s.at(timedelta(days=2, hours=21, minutes=59)) == []  # Monday 13:59
    assert await s.at(timedelta(days=2, hours=22)) == ["response.0.warning.75"]  # Monday 14:00 = 6 working hours
    # a pause over the night credits only the working time it took
    await s.move("open", "waiting_for_info")
    await s.at(timedelta(days=3, hours=18))  # Tuesday 10:00
    await s.move("waiting_for_info", "in_progress", actor=s_reporter())
    assert s.doc()["clocks"]["response"]["due_at"] == datetime(2026, 1, 13, 12, 0, tzinfo=UTC)


def reclassified(s: Scenario, ticket_id: str, old: Severity, new: Severity) -> TicketReclassified:
    """Return triage's ticket.reclassified for this ticket, happening now (its due times are triage's estimate)."""
    return TicketReclassified(
        ticket_id=ticket_id, number="INC-000001", old_severity=old, severity=new, trigger="agent",
        escalation_trigger=False, rule="agent", reason="payroll", old_tier=2, tier=2, old_team="technical-support",
        team="technical-support", changed_at=s.clock.now(), old_response_due_at=s.start + 4 * H,
        response_due_at=s.start, old_resolution_due_at=s.start + 24 * H, resolution_due_at=s.start,
        response_target="1 hour", resolution_target="8 hours", spent_seconds=0, paused_seconds=0)


async def test_reclassification_gives_the_new_allowance_with_the_time_used_carried_over():
    s = Scenario()
    ticket_id = await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support",
                             response_due_at=s.start + 4 * H, resolution_due_at=s.start + 24 * H)
    await s.at(30 * M)
    await s.send(reclassified(s, ticket_id, Severity.MEDIUM, Severity.HIGH))
    doc = s.doc()
    assert doc["severity"] == "high"
    assert doc["clocks"]["response"]["due_at"] == s.start + 1 * H  # 1 hour, 30 min of it used
    assert doc["clocks"]["resolution"]["due_at"] == s.start + 8 * H
    assert await s.at(45 * M) == ["response.1.warning.75"], "the new promise warns again"
    assert await s.at(1 * H) == ["response.1.warning.90", "response.1.breached"]
    assert [e["trigger"] for e in s.events("ticket.escalated")] == ["response_breached"]
    [retargeted] = [p for p in s.events("sla.clock_changed") if p["change"] == "retargeted" and p["target"] == "response"]
    assert retargeted["old_due_at"].startswith("2026-01-05T13:00") and retargeted["clock"]["allowance"] == "1 hour"


async def test_reclassification_past_the_new_allowance_is_due_at_once():
    s = Scenario()
    ticket_id = await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support",
                             response_due_at=s.start + 4 * H, resolution_due_at=s.start + 24 * H)
    await s.at(3 * H + 1 * M)
    assert sla(s) == [("sla.warning", "response", 0.75)]
    await s.send(reclassified(s, ticket_id, Severity.MEDIUM, Severity.HIGH))
    assert s.doc()["clocks"]["response"]["due_at"] == s.start + 3 * H + 1 * M
    assert await s.at(3 * H + 1 * M) == ["response.1.warning.75", "response.1.warning.90", "response.1.breached"]
    assert [e["trigger"] for e in s.events("ticket.escalated")] == ["response_breached"]


def s_reporter():
    from tests.escalation_harness import REPORTER

    return REPORTER
