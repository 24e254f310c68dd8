"""The SLA dashboard's figures besides the report's rows: compliance over time, time to resolution against the
target, escalations by tier and reason, vendor answer times, and what is open, at risk and overdue now (pure).

Everything but the "now" counts reads the same summaries the exact SLA report reads (tickets created in
the window, from the day buckets), so the charts and the report always agree; the "now" counts are the
work-in-flight gauges' own arithmetic over the open work. Each figure names the Prometheus query that
watches the same thing live (`QUERIES`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from services.intake.domain.sla_report import SEVERITIES, mean, percentile
from services.intake.domain.work_in_flight import count_work_in_flight
from shared.sla.calendar import BusinessCalendar

RATIO_BINS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, math.inf))
"""Time to resolution as a share of the severity's target: four bins within it, three beyond."""
RATIO_LABELS = ("≤ ¼", "¼–½", "½–¾", "¾–1", "1–1½", "1½–2", "> 2")


@dataclass(frozen=True)
class Period:
    """One point of a time series: tickets created in [start, end)."""

    label: str
    start: datetime
    end: datetime


def periods(start: datetime, end: datetime) -> list[Period]:
    """Return the window cut into days (up to 31 days), weeks (up to 26 weeks) or 30-day spans, in order."""
    days = (end - start).total_seconds() / 86400
    step = timedelta(days=1) if days <= 31 else timedelta(days=7) if days <= 182 else timedelta(days=30)
    found = []
    at = start
    while at < end:
        stop = min(at + step, end)
        label = at.strftime("%-d %b") if step.days == 1 else f"{at:%-d %b}–{(stop - timedelta(seconds=1)):%-d %b}"
        found.append(Period(label, at, stop))
        at = stop
    return found


def compliance_series(tickets: list[dict[str, Any]], spans: list[Period], target: str) -> dict[str, list[float | None]]:
    """Return, per severity, the compliance % of the target for tickets created in each period (None: none measured).

    Outcomes count under the severity they were measured at, as in the report.
    """
    met: Counter = Counter()
    measured: Counter = Counter()
    for ticket in tickets:
        outcome = ticket.get(f"sla_{target}")
        if not outcome:
            continue
        index = next((i for i, p in enumerate(spans) if p.start <= ticket["created_at"] < p.end), None)
        if index is None:
            continue
        measured[(outcome["severity"], index)] += 1
        met[(outcome["severity"], index)] += outcome["outcome"] == "met"
    return {severity: [100.0 * met[(severity, i)] / measured[(severity, i)] if measured[(severity, i)] else None
                       for i in range(len(spans))] for severity in SEVERITIES}


def resolution_ratios(tickets: list[dict[str, Any]], targets: dict[str, float]) -> dict[str, list[int]]:
    """Return, per severity, how many resolutions took each share of the target (RATIO_BINS)."""
    counts = {severity: [0] * len(RATIO_BINS) for severity in SEVERITIES}
    for ticket in tickets:
        outcome = ticket.get("sla_resolution")
        budget = targets.get(outcome["severity"]) if outcome else None
        if not outcome or not budget or outcome["severity"] not in counts:
            continue
        ratio = float(outcome["elapsed_seconds"]) / budget
        index = next(i for i, (low, high) in enumerate(RATIO_BINS) if ratio < high or high == math.inf)
        counts[outcome["severity"]][index] += 1
    return counts


@dataclass(frozen=True)
class EscalationCount:
    """Tier moves of tickets created in the window, from one tier to another for one reason."""

    from_tier: int
    to_tier: int
    trigger: str
    count: int


def escalations(tickets: list[dict[str, Any]]) -> list[EscalationCount]:
    """Return the tier moves of the tickets by (from tier, to tier, trigger), most frequent first."""
    tally: Counter = Counter()
    for ticket in tickets:
        for step in ticket.get("escalations") or []:
            tally[(step.get("from_tier"), step.get("to_tier"), step.get("trigger") or "unknown")] += 1
    return [EscalationCount(int(f or 0), int(t or 0), trigger, count)
            for (f, t, trigger), count in sorted(tally.items(), key=lambda item: (-item[1], item[0][0] or 0,
                                                                                   item[0][1] or 0, item[0][2]))]


@dataclass(frozen=True)
class VendorAnswers:
    """One vendor's hand-offs of tickets created in the window and how fast it first answered."""

    vendor: str
    name: str
    handoffs: int
    answered: int
    on_time: int
    mean_seconds: float | None
    p90_seconds: float | None


def vendor_answers(tickets: list[dict[str, Any]]) -> list[VendorAnswers]:
    """Return per vendor the hand-offs, first answers, answers within the agreed time, and mean and p90 answer time."""
    seen: dict[str, dict[str, Any]] = {}
    for ticket in tickets:
        handoff = ticket.get("vendor_answer")
        if not handoff or not handoff.get("id"):
            continue
        row = seen.setdefault(handoff["id"], {"name": handoff.get("name") or handoff["id"], "handoffs": 0,
                                              "on_time": 0, "seconds": []})
        row["handoffs"] += 1
        answered, handed, due = handoff.get("answered_at"), handoff.get("handed_at"), handoff.get("answer_due_at")
        if answered and handed:
            row["seconds"].append(max(0.0, (answered - handed).total_seconds()))
            row["on_time"] += bool(due and answered <= due)
    return [VendorAnswers(vendor, row["name"], row["handoffs"], len(row["seconds"]), row["on_time"],
                          mean(row["seconds"]), percentile(row["seconds"], 0.9)) for vendor, row in sorted(seen.items())]


@dataclass(frozen=True)
class NowCounts:
    """One severity's open tickets now, and how many of its targets are at risk or overdue (the gauges' numbers)."""

    severity: str
    open: int
    at_risk_response: int
    at_risk_resolution: int
    overdue_response: int
    overdue_resolution: int


def now_counts(open_entries: list[dict[str, Any]], now: datetime, calendar: BusinessCalendar,
               at_risk_fraction: float) -> list[NowCounts]:
    """Return per severity (and untriaged as 'none') what is open, at risk and overdue now."""
    counts = count_work_in_flight(open_entries, now, calendar, at_risk_fraction)
    opened: Counter = Counter()
    for (severity, _status, _tier), count in counts.open_tickets.items():
        opened[severity] += count
    rows = []
    for severity in (*SEVERITIES, "none"):
        if severity == "none" and not opened[severity]:
            continue
        rows.append(NowCounts(severity, opened[severity], counts.at_risk[(severity, "response")],
                              counts.at_risk[(severity, "resolution")], counts.overdue[(severity, "response")],
                              counts.overdue[(severity, "resolution")]))
    return rows


def prometheus_range(start: datetime, end: datetime) -> str:
    """Return a PromQL range covering the window: whole days when it is whole days, else hours (at least 1h)."""
    seconds = int((end - start).total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    return f"{max(1, math.ceil(seconds / 3600))}h"


QUERIES = {
    "response_compliance": 'sum by (severity) (increase(incidents_sla_response_total{{outcome="met"}}[{range}])) '
                           '/ sum by (severity) (increase(incidents_sla_response_total[{range}]))',
    "resolution_compliance": 'sum by (severity) (increase(incidents_sla_resolution_total{{outcome="met"}}[{range}])) '
                             '/ sum by (severity) (increase(incidents_sla_resolution_total[{range}]))',
    "mtta": "sum by (severity) (increase(incidents_time_to_first_response_seconds_sum[{range}])) "
            "/ sum by (severity) (increase(incidents_time_to_first_response_seconds_count[{range}]))",
    "mttr": "sum by (severity) (increase(incidents_time_to_resolution_seconds_sum[{range}])) "
            "/ sum by (severity) (increase(incidents_time_to_resolution_seconds_count[{range}]))",
    "p90_response": "histogram_quantile(0.9, sum by (severity, le) "
                    "(increase(incidents_time_to_first_response_seconds_bucket[{range}])))",
    "p90_resolution": "histogram_quantile(0.9, sum by (severity, le) "
                      "(increase(incidents_time_to_resolution_seconds_bucket[{range}])))",
    "resolution_distribution": "sum by (severity, le) (increase(incidents_time_to_resolution_seconds_bucket[{range}]))",
    "open": "sum by (severity) (max by (severity, status, tier) (incidents_open_tickets))",
    "at_risk": "max by (severity, target) (incidents_tickets_at_risk)",
    "overdue": "max by (severity, target) (incidents_tickets_overdue)",
    "escalations": "sum by (from_tier, to_tier, reason) (increase(incidents_escalations_total[{range}]))",
    "vendor_answers": "histogram_quantile(0.9, sum by (vendor, le) (increase(incidents_vendor_answer_seconds_bucket"
                      "[{range}])))",
}
"""Figure -> the PromQL watching it live. Counters count targets when they are measured; the report counts the
tickets created in the window, so live figures for a past window can differ a little at its edges."""
NOW_FIGURES = ("open", "at_risk", "overdue")


def prometheus_link(base_url: str, figure: str, start: datetime, end: datetime) -> str:
    """Return a link to Prometheus' expression browser showing one figure's query (at the window's end)."""
    expr = QUERIES[figure].format(range=prometheus_range(start, end))
    params = {"g0.expr": expr, "g0.tab": "1"}
    if figure not in NOW_FIGURES:
        params["g0.moment_input"] = end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{base_url.rstrip('/')}/graph?{urlencode(params)}"
