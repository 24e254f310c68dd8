"""Hand-off notices and the coverage gauge: a shift start is announced once, intake lists the team's open work
(overdue and at risk first), and the gauge shows each team's gap seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from services.escalation.adapters.oncall_metrics import GAP_GAUGE, CoverageGauge
from services.escalation.entrypoints.oncall_loops import refresh_gauge
from services.escalation.service_layer.oncall_handoffs import HandoffNotices, starts
from services.intake.service_layer.handoff_notices import notice_for
from shared.clock import FakeClock
from shared.contracts.oncall_events import OnCallShiftStarted
from shared.sla.policy import SlaPolicy
from tests.fakes_escalation import StaticOnCall
from tests.oncall_builders import senior_config

T = datetime(2026, 1, 6, 8, 59, tzinfo=UTC)


class MemoryHandoffs:
    def __init__(self, through=None) -> None:
        self.through = through
        self.notices: dict[str, dict] = {}

    async def cursor(self):
        return self.through

    async def move_cursor(self, before, after) -> bool:
        if before != self.through:
            return False
        self.through = after
        return True

    async def record(self, notice_id, envelope, now):
        if notice_id in self.notices:
            return None
        self.notices[notice_id] = {"_id": notice_id, "outbox": [envelope]}
        return self.notices[notice_id]


def test_a_shift_start_is_a_shift_beginning_inside_the_window_not_one_already_running():
    config = senior_config()
    found = starts(config, T, T + timedelta(minutes=2))
    assert [(notice_id, event.person.id) for notice_id, _, event in found] == [
        ("senior|bob|2026-01-06T09:00:00+00:00", "bob")]
    assert starts(config, T + timedelta(minutes=1), T + timedelta(hours=5)) == []


async def test_each_shift_start_is_announced_once_and_the_first_pass_only_starts_the_cursor():
    clock, records = FakeClock(T), MemoryHandoffs()
    hinted = []
    notices = HandoffNotices(StaticOnCall(senior_config()), records, clock,
                             on_outbox=lambda collection, notice_id, doc: hinted.append(notice_id))
    assert await notices.run_once() == 0 and records.through == T
    clock.advance(timedelta(minutes=2))
    assert await notices.run_once() == 1
    [notice] = records.notices.values()
    event = notice["outbox"][0]
    assert event["event_type"] == "oncall.shift_started" and event["payload"]["person"]["email"] == "bob@example.com"
    assert hinted == ["senior|bob|2026-01-06T09:00:00+00:00"]
    records.through = T  # another replica's pass, or a crash before the cursor moved: nothing twice
    assert await notices.run_once() == 0 and len(records.notices) == 1


async def test_a_long_outage_does_not_flood_people_with_stale_notices():
    clock, records = FakeClock(T + timedelta(days=3)), MemoryHandoffs(through=T)
    await HandoffNotices(StaticOnCall(senior_config()), records, clock).run_once()
    assert records.notices == {} and records.through == clock.now()


def entry(number: str, severity: str, due_in: timedelta, *, team="senior-engineering", status="in_progress",
          used: float = 0.0) -> dict:
    budget = 3600.0
    return {"number": number, "title": f"ticket {number}", "severity": severity, "status": status, "team": team,
            "clocks": {"response": {"state": "running", "business": False, "budget_seconds": budget,
                                    "anchor_at": T, "remaining_seconds": due_in.total_seconds(),
                                    "due_at": T + due_in, "paused_seconds": 0.0}}}


def test_intake_lists_the_teams_open_work_overdue_first_then_at_risk():
    shift = OnCallShiftStarted(team="senior-engineering", schedule_id="senior", person={"id": "bob", "name": "Bob"},
                               start=T, end=T + timedelta(days=1))
    entries = [entry("INC-000001", "low", timedelta(hours=1)), entry("INC-000002", "high", timedelta(minutes=-5)),
               entry("INC-000003", "critical", timedelta(minutes=5)), entry("INC-000004", "critical", timedelta(hours=1),
                                                                            team="service-desk"),
               entry("INC-000005", "high", timedelta(hours=1), status="closed")]
    notice = notice_for(shift, entries, T, SlaPolicy().calendar, 0.75)
    assert [(t.number, t.standing) for t in notice.tickets] == [
        ("INC-000002", "overdue"), ("INC-000003", "at_risk"), ("INC-000001", "on_track")]
    assert (notice.open_count, notice.overdue_count, notice.at_risk_count) == (3, 1, 1)
    assert notice.person.name == "Bob" and notice.end == T + timedelta(days=1)


async def test_the_gauge_shows_each_teams_gap_seconds_in_the_horizon():
    registry = CollectorRegistry()
    gauge = CoverageGauge(registry)
    removed = {"id": "off", "schedule": "senior", "kind": "remove", "person": "bob", "start": T,
               "end": datetime(2026, 1, 6, 11, tzinfo=UTC)}
    await refresh_gauge(StaticOnCall(senior_config(overrides=[removed])), gauge, FakeClock(T), timedelta(days=1))
    assert registry.get_sample_value(GAP_GAUGE, {"team": "senior-engineering"}) == 2 * 3600  # bob from 09:00 to 11:00
    await refresh_gauge(StaticOnCall(None), gauge, FakeClock(T), timedelta(days=1))
    assert registry.get_sample_value(GAP_GAUGE, {"team": "senior-engineering"}) is None
