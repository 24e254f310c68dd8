"""The exact SLA report and the work-in-flight counts, computed from ticket documents."""

import csv
import io
from datetime import UTC, datetime, timedelta

from services.intake.domain.sla_report import mean, percentile, rows_as_csv, sla_report
from services.intake.domain.work_in_flight import count_work_in_flight
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import new_clock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CALENDAR = BusinessCalendar()


def outcome(severity, met, seconds):
    return {"severity": severity, "outcome": "met" if met else "breached", "elapsed_seconds": seconds}


def test_nearest_rank_percentile_and_mean():
    assert percentile([], 0.9) is None and mean([]) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 0.9) == 9.0
    assert percentile(list(reversed(values)), 0.5) == 5.0
    assert percentile(values + [11.0], 0.9) == 10.0  # ceil(9.9) = 10th value
    assert mean(values) == 5.5


def test_report_counts_met_breached_compliance_and_times_per_severity():
    tickets = [
        {"severity": "critical", "sla_response": outcome("critical", True, 600), "sla_resolution": outcome("critical", True, 7200)},
        {"severity": "critical", "sla_response": outcome("critical", False, 1800), "sla_resolution": outcome("critical", False, 20000)},
        {"severity": "critical", "sla_response": outcome("critical", True, 300)},
        {"severity": "critical"},
        {"severity": "low", "sla_response": outcome("low", True, 3600)},
        {"severity": None},
    ]
    rows = {row.severity: row for row in sla_report(tickets)}
    assert list(rows) == ["critical", "high", "medium", "low", "untriaged", "all"]
    critical = rows["critical"]
    assert (critical.tickets, critical.response_met, critical.response_breached) == (4, 2, 1)
    assert (critical.resolution_met, critical.resolution_breached) == (1, 1)
    assert critical.response_compliance_percent == 100 * 2 / 3
    assert critical.resolution_compliance_percent == 50.0
    assert critical.mean_time_to_first_response_seconds == 900.0
    assert critical.p90_time_to_first_response_seconds == 1800.0
    assert critical.mean_time_to_resolution_seconds == 13600.0
    assert critical.p90_time_to_resolution_seconds == 20000.0
    high = rows["high"]
    assert high.tickets == 0 and high.response_compliance_percent is None and high.mean_time_to_resolution_seconds is None
    assert rows["untriaged"].tickets == 1
    everything = rows["all"]
    assert (everything.tickets, everything.response_met, everything.response_breached) == (6, 3, 1)
    assert everything.response_compliance_percent == 75.0


def test_outcomes_count_under_the_severity_they_were_measured_at():
    rows = {row.severity: row for row in sla_report([{"severity": "critical", "sla_response": outcome("high", False, 9000)}])}
    assert rows["critical"].tickets == 1 and rows["critical"].response_breached == 0
    assert rows["high"].tickets == 0 and rows["high"].response_breached == 1


def test_csv_has_a_header_and_one_line_per_row_with_empty_cells_for_nothing_measured():
    rows = sla_report([{"severity": "medium", "sla_response": outcome("medium", True, 100.5)}])
    parsed = list(csv.DictReader(io.StringIO(rows_as_csv(rows))))
    assert [r["severity"] for r in parsed] == ["critical", "high", "medium", "low", "all"]
    medium = parsed[2]
    assert medium["response_met"] == "1" and medium["response_compliance_percent"] == "100.000"
    assert medium["mean_time_to_first_response_seconds"] == "100.500"
    assert medium["resolution_compliance_percent"] == "" and parsed[0]["tickets"] == "0"


def open_ticket(status="open", severity="high", created=T0, response_h=1, resolution_h=8, responded=False, tier=2):
    """Return an open ticket with the running clocks escalation would have reported for it."""
    paused = status in ("waiting_for_info", "on_hold")
    clocks = {target: new_clock(created, created, created + timedelta(hours=hours), hours * 3600.0, False, paused,
                                CALENDAR)
              for target, hours in (("response", response_h), ("resolution", resolution_h))}
    ticket = {"status": status, "severity": severity, "tier": tier, "created_at": created, "sla": {"clocks": clocks}}
    if responded:
        ticket["sla_response"] = outcome(severity, True, 60)
    return ticket


def test_work_in_flight_counts_open_at_risk_and_overdue():
    now = T0 + timedelta(minutes=50)  # 83% of the 1 h response budget, 10% of the 8 h resolution budget
    counts = count_work_in_flight([
        open_ticket(),                                   # response at risk
        open_ticket(responded=True),                     # responded: nothing at risk
        open_ticket(status="waiting_for_info"),          # paused: never at risk
        open_ticket(created=T0 - timedelta(hours=2)),    # response overdue (not yet breached-as-counted)
        open_ticket(created=T0 - timedelta(hours=7)),    # response overdue, resolution at risk (7h50 of 8h)
        open_ticket(severity=None, tier=None),           # untriaged
        open_ticket(status="resolved"),                  # not open
    ], now, CALENDAR, 0.75)
    assert counts.open_tickets == {("high", "open", "2"): 4, ("high", "waiting_for_info", "2"): 1, ("none", "open", "none"): 1}
    assert counts.at_risk == {("high", "response"): 1, ("high", "resolution"): 1}
    assert counts.overdue == {("high", "response"): 2}


def test_exactly_at_the_warning_fraction_is_at_risk_and_at_the_due_time_not_yet_overdue():
    due = T0 + timedelta(hours=1)
    assert count_work_in_flight([open_ticket()], T0 + timedelta(minutes=45), CALENDAR, 0.75).at_risk == {
        ("high", "response"): 1}
    assert count_work_in_flight([open_ticket()], T0 + timedelta(minutes=44), CALENDAR, 0.75).at_risk == {}
    assert count_work_in_flight([open_ticket()], due, CALENDAR, 0.75).overdue == {}
