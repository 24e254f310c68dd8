"""The exact SLA report: per severity, targets met and breached, compliance and response times (pure).

Input is every ticket (or day-bucket summary) created in the window with its stored outcomes (``sla_response`` and
``sla_resolution``, written by the change that measured them, see domain/sla.py). Tickets are
counted under their current severity; outcomes under the severity they were measured at, which is
also what the Prometheus counters used. Percentiles are nearest-rank over all values, not sampled.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from shared.contracts import Severity

SEVERITIES = tuple(s.value for s in Severity)
UNTRIAGED = "untriaged"
ALL = "all"


@dataclass(frozen=True)
class SeverityRow:
    """One line of the report."""

    severity: str
    tickets: int
    response_met: int
    response_breached: int
    response_compliance_percent: float | None
    resolution_met: int
    resolution_breached: int
    resolution_compliance_percent: float | None
    mean_time_to_first_response_seconds: float | None
    p90_time_to_first_response_seconds: float | None
    mean_time_to_resolution_seconds: float | None
    p90_time_to_resolution_seconds: float | None


def percentile(values: list[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile (fraction in (0, 1]) of values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def mean(values: list[float]) -> float | None:
    """Return the arithmetic mean, or None when there are no values."""
    return math.fsum(values) / len(values) if values else None


def compliance(met: int, breached: int) -> float | None:
    """Return met as a percentage of measured targets, or None when nothing was measured."""
    measured = met + breached
    return 100.0 * met / measured if measured else None


class _Tally:
    def __init__(self) -> None:
        self.tickets = 0
        self.outcomes: dict[str, dict[str, int]] = {"response": {"met": 0, "breached": 0},
                                                    "resolution": {"met": 0, "breached": 0}}
        self.elapsed: dict[str, list[float]] = {"response": [], "resolution": []}

    def add(self, target: str, outcome: dict[str, Any]) -> None:
        self.outcomes[target][outcome["outcome"]] += 1
        self.elapsed[target].append(float(outcome["elapsed_seconds"]))

    def row(self, severity: str) -> SeverityRow:
        response, resolution = self.outcomes["response"], self.outcomes["resolution"]
        return SeverityRow(
            severity=severity,
            tickets=self.tickets,
            response_met=response["met"],
            response_breached=response["breached"],
            response_compliance_percent=compliance(response["met"], response["breached"]),
            resolution_met=resolution["met"],
            resolution_breached=resolution["breached"],
            resolution_compliance_percent=compliance(resolution["met"], resolution["breached"]),
            mean_time_to_first_response_seconds=mean(self.elapsed["response"]),
            p90_time_to_first_response_seconds=percentile(self.elapsed["response"], 0.9),
            mean_time_to_resolution_seconds=mean(self.elapsed["resolution"]),
            p90_time_to_resolution_seconds=percentile(self.elapsed["resolution"], 0.9),
        )


def sla_report(tickets: list[dict[str, Any]]) -> list[SeverityRow]:
    """Return one row per severity (critical to low, then untriaged if any), then the 'all' row."""
    tallies = {severity: _Tally() for severity in SEVERITIES}
    total = _Tally()
    for ticket in tickets:
        tallies.setdefault(ticket.get("severity") or UNTRIAGED, _Tally()).tickets += 1
        total.tickets += 1
        for target in ("response", "resolution"):
            outcome = ticket.get(f"sla_{target}")
            if outcome:
                tallies.setdefault(outcome["severity"], _Tally()).add(target, outcome)
                total.add(target, outcome)
    return [tally.row(severity) for severity, tally in tallies.items()] + [total.row(ALL)]


def rows_as_csv(rows: list[SeverityRow]) -> str:
    """Return the rows as CSV with a header line; empty cells where nothing was measured."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = [f.name for f in fields(SeverityRow)]
    writer.writerow(names)
    for row in rows:
        values = asdict(row)
        writer.writerow(["" if values[n] is None else (f"{values[n]:.3f}" if isinstance(values[n], float) else values[n])
                         for n in names])
    return out.getvalue()
