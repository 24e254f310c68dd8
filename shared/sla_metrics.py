"""SLA and work-in-flight Prometheus metrics, shared so every service names them the same way.

Intake (which owns the ticket record) observes response and resolution outcomes and the
work-in-flight gauges. Labels are low-cardinality only: severity, status, tier, target, outcome.

Escalation (which runs the clocks) registers EscalationSlaMetrics on its own registry: warnings
and breaches as they fire, for response, resolution and the post-escalation hand-off. Every label
set is primed at 0 (an ``increase()`` over a series that is born at 1 shows nothing, so un-primed
first breaches would never alert).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SEVERITIES = ("critical", "high", "medium", "low")
TARGETS = ("response", "resolution")
CLOCK_TARGETS = ("response", "resolution", "handoff")
"""The clocks escalation runs: intake's two targets plus the new team's contact after an escalation."""
OUTCOMES = ("met", "breached")

HOUR = 3600.0
SLA_BUCKETS = (
    5 * 60, 15 * 60, 30 * 60, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 24 * HOUR, 40 * HOUR, 72 * HOUR, 168 * HOUR,
)
"""Seconds around KB-005's targets: 15 min, 1 h, 4 h, 8 h (also 1 business day of working time),
24 h (1 wall-clock day), 40 h (5 business days), 3 d and 7 d, plus 5 min, 30 min and 2 h for MTTA."""


def prime(metric: Counter | Histogram, label_sets: Iterable[tuple[str, ...]]) -> None:
    """Create each label set at zero so the first real increment shows up in increase()/rate()."""
    for labels in label_sets:
        metric.labels(*labels)


@dataclass(frozen=True)
class SlaMetrics:
    """Targets met and breached, times to first response and to resolution, and work in flight."""

    response: Counter
    resolution: Counter
    time_to_first_response: Histogram
    time_to_resolution: Histogram
    open_tickets: Gauge
    at_risk: Gauge
    overdue: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> SlaMetrics:
        """Return the SLA metric set registered on a service's registry, every severity primed at zero."""
        metrics = cls(
            response=Counter(
                "incidents_sla_response_total",
                "First responses by severity and whether the response target was met or breached.",
                ["severity", "outcome"], registry=registry,
            ),
            resolution=Counter(
                "incidents_sla_resolution_total",
                "First resolutions (resolved or closed) by severity and whether the resolution target was met.",
                ["severity", "outcome"], registry=registry,
            ),
            time_to_first_response=Histogram(
                "incidents_time_to_first_response_seconds",
                "Wall-clock time from report to the first agent response, by severity.",
                ["severity"], buckets=SLA_BUCKETS, registry=registry,
            ),
            time_to_resolution=Histogram(
                "incidents_time_to_resolution_seconds",
                "Wall-clock time from report to the first resolution, by severity.",
                ["severity"], buckets=SLA_BUCKETS, registry=registry,
            ),
            open_tickets=Gauge(
                "incidents_open_tickets",
                "Tickets not resolved or closed, by severity, status and tier, recounted from the database.",
                ["severity", "status", "tier"], registry=registry,
            ),
            at_risk=Gauge(
                "incidents_tickets_at_risk",
                "Open, running tickets past the warning fraction of a target's budget and not yet breached.",
                ["severity", "target"], registry=registry,
            ),
            overdue=Gauge(
                "incidents_tickets_overdue",
                "Open tickets whose target is past due and not yet met (response unanswered, or unresolved).",
                ["severity", "target"], registry=registry,
            ),
        )
        outcomes = [(s, o) for s in SEVERITIES for o in OUTCOMES]
        prime(metrics.response, outcomes)
        prime(metrics.resolution, outcomes)
        prime(metrics.time_to_first_response, [(s,) for s in SEVERITIES])
        prime(metrics.time_to_resolution, [(s,) for s in SEVERITIES])
        for severity in SEVERITIES:
            for target in TARGETS:
                metrics.at_risk.labels(severity, target).set(0)
                metrics.overdue.labels(severity, target).set(0)
        return metrics

    def observe(self, target: str, severity: str, met: bool, elapsed_seconds: float) -> None:
        """Count one measured target and observe its elapsed time; target is 'response' or 'resolution'."""
        counter, histogram = (
            (self.response, self.time_to_first_response) if target == "response"
            else (self.resolution, self.time_to_resolution)
        )
        counter.labels(severity, "met" if met else "breached").inc()
        histogram.labels(severity).observe(max(elapsed_seconds, 0.0))

    def set_work_in_flight(
        self,
        open_tickets: dict[tuple[str, str, str], int],
        at_risk: dict[tuple[str, str], int],
        overdue: dict[tuple[str, str], int],
    ) -> None:
        """Replace the gauges with a fresh count; label sets that vanished drop to absent (at-risk/overdue to 0)."""
        self.open_tickets.clear()
        for labels, count in open_tickets.items():
            self.open_tickets.labels(*labels).set(count)
        for severity in SEVERITIES:
            for target in TARGETS:
                self.at_risk.labels(severity, target).set(0)
                self.overdue.labels(severity, target).set(0)
        for labels, count in at_risk.items():
            self.at_risk.labels(*labels).set(count)
        for labels, count in overdue.items():
            self.overdue.labels(*labels).set(count)


@dataclass(frozen=True)
class EscalationSlaMetrics:
    """SLA warnings and breaches as escalation fires them, by severity and clock target."""

    warnings: Counter
    breaches: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> EscalationSlaMetrics:
        """Return the set registered on escalation's registry, every (severity, target) primed at zero."""
        metrics = cls(
            warnings=Counter(
                "incidents_sla_warnings_total",
                "SLA warnings fired (a running clock used a warning fraction of its budget), by severity and target.",
                ["severity", "target"], registry=registry,
            ),
            breaches=Counter(
                "incidents_sla_breaches_total",
                "SLA breaches fired (a running clock reached its due time unmet), by severity and target.",
                ["severity", "target"], registry=registry,
            ),
        )
        label_sets = [(s, t) for s in SEVERITIES for t in CLOCK_TARGETS]
        prime(metrics.warnings, label_sets)
        prime(metrics.breaches, label_sets)
        return metrics
