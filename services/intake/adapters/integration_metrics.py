"""Counters of what inbound integrations sent and what intake answered (labels: kind, outcome)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

OUTCOMES = ("accepted", "ignored", "unauthorized", "invalid", "throttled", "busy", "failed")


class IntegrationMetrics:
    """`incidents_integration_requests_total{kind, outcome}`; every label set is primed at 0."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("incidents_integration_requests_total",
                                "Requests from inbound integrations by kind and outcome", ["kind", "outcome"],
                                registry=registry)
        for kind in ("alertmanager", "events-v2", "slack"):
            for outcome in OUTCOMES:
                self.requests.labels(kind, outcome)

    def count(self, kind: str, outcome: str) -> None:
        """Count one request."""
        self.requests.labels(kind, outcome).inc()
