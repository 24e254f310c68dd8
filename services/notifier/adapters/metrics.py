"""The notifier's own Prometheus metrics (labels: channel and outcome only)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

DELIVERY_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


@dataclass(frozen=True)
class NotifierMetrics:
    """Notifications by final outcome, attempts by result, and time from event to delivery."""

    notifications: Counter
    attempts: Counter
    latency: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> NotifierMetrics:
        """Return the metric set registered on the service's registry."""
        return cls(
            notifications=Counter(
                "incidents_notifications_total",
                "Notifications that reached a final or waiting state: delivered, failed, held (rate limited), digested.",
                ["channel", "outcome"], registry=registry,
            ),
            attempts=Counter(
                "incidents_notification_attempts_total",
                "Send attempts by channel and result: delivered, transient, permanent.",
                ["channel", "outcome"], registry=registry,
            ),
            latency=Histogram(
                "incidents_notification_delivery_seconds",
                "Time from the delivery being created to the channel accepting it.",
                ["channel"], buckets=DELIVERY_LATENCY_BUCKETS, registry=registry,
            ),
        )
