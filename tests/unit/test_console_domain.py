"""The console's pure rules: queue order, filters and counts, the actions offered, conflicts, escalation requests,
feature decisions, the dashboard's figures and chart geometry (fake clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain import actions, charts
from services.intake.domain import sla_dashboard as dash
from services.intake.domain.actions import ActionRefused
from services.intake.domain.conflicts import conflicting_changes
from services.intake.domain.lifecycle import Mover, allowed_moves
from services.intake.domain.offers import offers_for
from services.intake.domain.queue import Me, QueueFilter, build_queue, countdown, standing
from services.intake.domain.sla_report import sla_report
from shared.clock import FakeClock
from shared.contracts import Status
from shared.contracts.lifecycle_events import Actor, TicketEscalationRequested
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import new_clock, pause

CLOCK = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # a Monday
NOW = CLOCK.now()
CALENDAR = BusinessCalendar()
AGENT = Actor(type="agent", id="a1", name="Ann")
REPORTER = Actor(type="reporter", id="r1", name="Ada")
ME = Me(name="Ann Agent", email="ann@support.example.com")


def entry(n: int, *, status="in_progress", severity="high", due_in: float | None = 3600.0, budget=4 * 3600.0,
          paused=False, assignee=None, team="service-desk", tier=1, title="Checkout is slow", type_="performance",
          created=None, clocks=True, **extra):
    """Return an open-work summary whose response clock is due `due_in` seconds from NOW."""
    created = created or NOW - timedelta(hours=1)
    found = {"id": f"01J{n:023d}", "number": f"INC-{n:06d}", "title": title, "status": status, "severity": severity,
             "tier": tier, "team": team, "assignee": assignee, "type": type_, "kind": "incident", "created_at": created,
             "reporter": {"id": "r1", "name": "Ada"}, "clocks": {}, **extra}
    if clocks and due_in is not None:
        clock = new_clock(created, NOW, NOW + timedelta(seconds=due_in), budget, False, False, CALENDAR)
        if paused:
            pause(clock, NOW, CALENDAR)
        found["clocks"] = {"response": clock}
    return found


def queue(entries, wanted=QueueFilter(), limit=50, since=None):
    return build_queue(entries, wanted, ME, now=NOW, calendar=CALENDAR, at_risk_fraction=0.75, limit=limit,
                       since=since)


def test_the_queue_puts_overdue_first_then_time_left_then_untriaged_then_paused_then_resolved():
    entries = [
        entry(1, due_in=7200), entry(2, due_in=-600), entry(3, due_in=600), entry(4, due_in=-3600),
        entry(5, due_in=300, paused=True, status="waiting_for_info"), entry(6, clocks=False, status="open"),
        entry(7, status="resolved"), entry(8, status="closed"),
    ]
    view = queue(entries)
    assert [row.entry["number"][-1] for row in view.rows] == ["4", "2", "3", "1", "6", "5", "7"], "closed is not open work"
    tones = {row.entry["number"][-1]: row.standing.tone for row in view.rows}
    assert tones == {"4": "overdue", "2": "overdue", "3": "at_risk", "1": "ok", "6": "new", "5": "paused", "7": "waiting"}
    assert view.rows[0].standing.words == "response overdue 1\u00a0h", "a unit stays on its number's line"
    assert "paused (waiting for the reporter)" in view.rows[5].standing.words


def test_a_clock_whose_target_is_reached_does_not_count_and_business_time_is_said_in_working_hours():
    reached = entry(1, due_in=-600, sla_response={"outcome": "met"})
    assert standing(reached, NOW, CALENDAR, 0.75).words == "targets reached"
    assert countdown(3 * 3600, business=True) == "3\u00a0working\u00a0h"
    assert countdown(-(26 * 3600 + 60), business=False) == "1\u00a0d 2\u00a0h"
    assert countdown(45 * 60, business=True) == "45\u00a0min"


def test_filters_combine_and_counts_per_value_keep_the_other_filters():
    entries = [entry(1, severity="high", assignee="ann@support.example.com"),
               entry(2, severity="high", assignee="Bob", team="technical-support", tier=2),
               entry(3, severity="low", assignee=None, title="Export fails"),
               entry(4, severity="critical", assignee="ANN AGENT", type_="security")]
    view = queue(entries, QueueFilter(severity="high"))
    assert [r.entry["number"] for r in view.rows] == ["INC-000001", "INC-000002"]
    assert view.counts["severity"] == {"high": 2, "low": 1, "critical": 1}, "the severity counts ignore the severity filter"
    assert view.counts["assignee"] == {"me": 1, "someone": 1}, "…but keep the others"
    mine = queue(entries, QueueFilter(assignee="me"))
    assert {r.entry["number"] for r in mine.rows} == {"INC-000001", "INC-000004"}, "by e-mail or name, any case"
    assert [r.entry["number"] for r in queue(entries, QueueFilter(assignee="nobody")).rows] == ["INC-000003"]
    assert [r.entry["number"] for r in queue(entries, QueueFilter(text="export")).rows] == ["INC-000003"]
    assert [r.entry["number"] for r in queue(entries, QueueFilter(text="inc-000002")).rows] == ["INC-000002"]
    assert [r.entry["number"] for r in queue(entries, QueueFilter(team="technical-support", tier=2)).rows] == [
        "INC-000002"]
    assert QueueFilter(text="x y", tier=2).as_params() == {"q": "x y", "tier": "2"}


def test_the_queue_shows_the_most_urgent_rows_and_marks_what_arrived_since():
    entries = [entry(n, due_in=600 * n) for n in range(1, 8)]
    view = queue(entries, limit=3, since=entries[4]["id"])
    assert [r.entry["number"] for r in view.rows] == ["INC-000001", "INC-000002", "INC-000003"]
    assert view.matched == 7 and view.new_since == 2 and view.newest_id == entries[6]["id"]
    assert not any(r.new for r in view.rows)
    assert all(r.new for r in queue(entries, since=entries[4]["id"]).rows[5:])


def ticket(status="in_progress", **extra):
    return {"_id": "T1", "number": "INC-000001", "title": "Slow", "status": status, "severity": "high", "tier": 1,
            "team": "service-desk", "reporter": {"id": "r1", "name": "Ada", "email": "ada@example.com"},
            "first_response_at": NOW, "kind": "incident", **extra}


@pytest.mark.parametrize("status", list(Status))
def test_the_console_offers_exactly_the_moves_the_transition_table_allows_an_agent(status):
    offers = offers_for(ticket(status.value), Mover.AGENT)
    allowed = set(allowed_moves(status, Mover.AGENT))
    offered = set(offers.statuses) | ({Status.WAITING_FOR_INFO} if offers.ask_for_information else set()) | (
        {Status.RESOLVED} if offers.resolve else set())
    assert offered == allowed
    for to in allowed - {Status.WAITING_FOR_INFO, Status.RESOLVED}:
        actions.change_status(ticket(status.value), AGENT, NOW, to, None)  # every offered move is accepted
    assert offers_for(ticket(status.value), Mover.REPORTER) == type(offers)(), "reporters are offered nothing here"


def test_acknowledge_and_escalation_are_offered_only_while_they_mean_something():
    assert offers_for(ticket("open", first_response_at=None), Mover.AGENT).acknowledge
    assert not offers_for(ticket("in_progress"), Mover.AGENT).acknowledge
    assert offers_for(ticket("in_progress", tier=2), Mover.AGENT).escalate_to == (3, 4)
    assert offers_for(ticket("resolved", tier=1), Mover.AGENT).escalate_to == ()
    assert offers_for(ticket("open", tier=None), Mover.AGENT).escalate_to == ()
    assert offers_for(ticket("open", kind="feature_request"), Mover.AGENT).feature_status


def test_an_escalation_request_names_the_tier_and_reason_and_is_refused_where_not_offered():
    update = actions.request_escalation(ticket(tier=1), AGENT, NOW, 3, "needs senior engineering")
    [event] = update.events
    assert isinstance(event, TicketEscalationRequested) and event.to_tier == 3 and event.reason == "needs senior engineering"
    assert update.entries[0]["visibility"] == "internal" and not update.fields, "escalation moves the tier, not intake"
    for bad in ((ticket(tier=2), 2), (ticket(tier=2), 1), (ticket("closed"), 4), (ticket(tier=None), 2)):
        with pytest.raises(ActionRefused):
            actions.request_escalation(*bad[:1], AGENT, NOW, bad[1], "why")
    with pytest.raises(ActionRefused, match="only support agents"):
        actions.request_escalation(ticket(), REPORTER, NOW, 2, "please")


def test_a_feature_decision_is_for_agents_on_feature_requests_and_public():
    request = ticket("open", kind="feature_request")
    update = actions.set_feature_status(request, AGENT, NOW, "planned", "in the spring release")
    assert update.fields == {"feature_status": "planned"}
    assert update.entries[0]["visibility"] == "public" and "spring release" in update.entries[0]["detail"]
    with pytest.raises(ActionRefused, match="already under review"):
        actions.set_feature_status(request, AGENT, NOW, "under_review", None)
    with pytest.raises(ActionRefused):
        actions.set_feature_status(ticket(), AGENT, NOW, "planned", None)
    with pytest.raises(ActionRefused):
        actions.set_feature_status(request, AGENT, NOW, "shipped", None)
    with pytest.raises(ActionRefused, match="only support agents"):
        actions.set_feature_status(request, REPORTER, NOW, "done", None)


def test_changes_by_people_or_to_the_ticket_conflict_and_routine_bookkeeping_does_not():
    def e(seq, action, actor="agent"):
        return {"seq": seq, "action": action, "actor": {"type": actor, "id": "x", "name": "X"}, "detail": action}
    document = {"timeline": [e(4, "commented"), e(5, "sla_clock_paused", "system"), e(6, "notification_sent", "system"),
                             e(7, "status_changed", "system"), e(8, "commented", "reporter"), e(9, "voted", "reporter")]}
    assert [c["seq"] for c in conflicting_changes(document, 5)] == [7, 8]
    assert conflicting_changes(document, 9) == []
    assert conflicting_changes(document, None) == [], "a form that says nothing is not checked"


def test_triage_echoing_an_agents_own_severity_change_is_no_conflict_but_its_own_reclassification_is():
    def reclassified(seq, trigger):
        return {"seq": seq, "action": "reclassified", "actor": {"type": "system", "id": "triage", "name": "triage"},
                "detail": "Reclassified", "data": {"trigger": trigger}}
    override = {"seq": 3, "action": "severity_changed", "actor": {"type": "agent", "id": "a1", "name": "Ann"},
                "detail": "Severity medium → high"}
    document = {"timeline": [override, reclassified(4, "agent"), reclassified(5, "growth")]}
    assert [c["seq"] for c in conflicting_changes(document, 4)] == [5], "the page showed the override; growth is news"
    assert [c["seq"] for c in conflicting_changes(document, 3)] == [3, 5], "an unseen override still conflicts"


def test_a_guard_makes_the_write_conditional_on_the_timeline_position():
    update = actions.acknowledge(ticket("open"), AGENT, NOW)
    update.guard["timeline_seq"] = 7
    assert update.condition == {"status": "open", "timeline_seq": 7}


def outcome(severity, met, seconds):
    return {"severity": severity, "outcome": "met" if met else "breached", "elapsed_seconds": seconds}


def test_the_dashboard_series_and_distribution_are_the_reports_outcomes_by_period():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=3)
    day = timedelta(days=1)
    tickets = [
        {"created_at": start + timedelta(hours=1), "sla_response": outcome("high", True, 600),
         "sla_resolution": outcome("high", True, 3600)},
        {"created_at": start + timedelta(hours=2), "sla_response": outcome("high", False, 9000),
         "sla_resolution": outcome("high", False, 40000)},
        {"created_at": start + 2 * day, "sla_response": outcome("low", True, 60)},
    ]
    spans = dash.periods(start, end)
    assert [p.label for p in spans] == ["1 Jan", "2 Jan", "3 Jan"]
    series = dash.compliance_series(tickets, spans, "response")
    assert series["high"] == [50.0, None, None] and series["low"] == [None, None, 100.0]
    rows = {r.severity: r for r in sla_report(tickets)}
    assert rows["high"].response_compliance_percent == 50.0, "the same outcomes as the exact report"
    ratios = dash.resolution_ratios(tickets, {"high": 8 * 3600.0})
    assert ratios["high"] == [1, 0, 0, 0, 1, 0, 0], "1 h of 8 is within a quarter; 11.1 h is 1.39 of the target"
    weeks = dash.periods(start, start + timedelta(days=60))
    assert len(weeks) == 9 and weeks[-1].end == start + timedelta(days=60)


def test_escalations_and_vendor_answers_are_counted_from_the_window_tickets():
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    tickets = [
        {"escalations": [{"from_tier": 1, "to_tier": 2, "trigger": "production"},
                         {"from_tier": 2, "to_tier": 3, "trigger": "agent"}]},
        {"escalations": [{"from_tier": 1, "to_tier": 2, "trigger": "production"}],
         "vendor_answer": {"id": "acme", "name": "ACME", "handed_at": t0, "answer_due_at": t0 + timedelta(hours=4),
                           "answered_at": t0 + timedelta(hours=2)}},
        {"vendor_answer": {"id": "acme", "name": "ACME", "handed_at": t0, "answer_due_at": t0 + timedelta(hours=4),
                           "answered_at": t0 + timedelta(hours=6)}},
        {"vendor_answer": {"id": "acme", "name": "ACME", "handed_at": t0, "answer_due_at": t0 + timedelta(hours=4)}},
    ]
    assert [(e.from_tier, e.to_tier, e.trigger, e.count) for e in dash.escalations(tickets)] == [
        (1, 2, "production", 2), (2, 3, "agent", 1)]
    [acme] = dash.vendor_answers(tickets)
    assert (acme.handoffs, acme.answered, acme.on_time, acme.mean_seconds) == (3, 2, 1, 4 * 3600.0)


def test_prometheus_links_carry_the_figures_query_over_the_window():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    link = dash.prometheus_link("http://prom:9090/", "response_compliance", start, start + timedelta(days=30))
    assert link.startswith("http://prom:9090/graph?g0.expr=")
    assert "incidents_sla_response_total" in link and "%5B30d%5D" in link and "g0.moment_input=2026-01-31" in link
    assert dash.prometheus_range(start, start + timedelta(hours=5, minutes=1)) == "6h"
    assert "moment" not in dash.prometheus_link("http://p", "overdue", start, start + timedelta(days=1))


def test_chart_geometry_breaks_lines_at_gaps_and_scales_columns():
    chart = charts.line_chart(["a", "b", "c", "d"], {"high": [100.0, None, 50.0, 0.0]})
    [line] = chart.lines
    assert len(line.runs) == 2 and len(line.dots) == 3
    left, top, right, bottom = chart.plot
    assert line.dots[0][1] == top and line.dots[-1][1] == bottom and line.dots[-1][0] == right
    columns = charts.column_chart(["x", "y"], {"high": [3, 0], "low": [1, 5]}, marker_after=0)
    assert columns.y_ticks[-1].label == "8" and len(columns.bars) == 4
    tallest = max(columns.bars, key=lambda b: b.value)
    assert tallest.y == pytest.approx(bottom - (bottom - top) * 5 / 8, abs=0.1)
    assert left < columns.marker < right
    assert charts._nice_ceiling(1234) == 1600 and charts._nice_ceiling(7) == 8
