"""Prometheus metrics every service exports, built on a registry owned by the service."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class PipelineMetrics:
    """Consumer, outbox and HTTP metrics shared by all services."""

    registry: CollectorRegistry
    messages_handled: Counter
    messages_failed: Counter
    messages_dead_lettered: Counter
    handler_duration: Histogram
    combined_messages: Counter
    events_published: Counter
    outbox_backlog: Gauge
    http_requests: Counter
    http_duration: Histogram


def pipeline_metrics(registry: CollectorRegistry) -> PipelineMetrics:
    """Return the shared metric set registered on the given registry."""
    return PipelineMetrics(
        registry=registry,
        messages_handled=Counter(
            "incidents_messages_handled_total",
            "Messages consumed and acknowledged after their effect was stored.",
            ["consumer", "event_type"],
            registry=registry,
        ),
        messages_failed=Counter(
            "incidents_messages_failed_total",
            "Handler attempts that raised and were returned to the queue.",
            ["consumer", "event_type"],
            registry=registry,
        ),
        messages_dead_lettered=Counter(
            "incidents_messages_dead_lettered_total",
            "Messages sent to the dead-letter queue, by reason class.",
            ["consumer", "reason"],
            registry=registry,
        ),
        handler_duration=Histogram(
            "incidents_handler_duration_seconds",
            "Time to handle one message, including storing its effect.",
            ["consumer"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        combined_messages=Counter(
            "incidents_messages_combined_total",
            "Messages of one ticket handled together with others that queued behind the same ticket.",
            ["consumer"],
            registry=registry,
        ),
        events_published=Counter(
            "incidents_events_published_total",
            "Events published to the broker and confirmed.",
            ["event_type"],
            registry=registry,
        ),
        outbox_backlog=Gauge(
            "incidents_outbox_backlog",
            "Documents holding events not yet published, seen by the last relay pass.",
            ["collection"],
            registry=registry,
        ),
        http_requests=Counter(
            "incidents_http_requests_total",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        ),
        http_duration=Histogram(
            "incidents_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
    )


TIMER_LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


def timer_lateness_histogram(registry: CollectorRegistry) -> Histogram:
    """Return `incidents_timer_lateness_seconds{timer}`: how long after its due time a timer fired.

    For services that keep due timers (escalation's SLA warnings, breaches and hand-offs): observe
    `max(0, fired_at - due_at)` once per fired timer, labelled with the timer kind (a small fixed
    set such as `response_warning`, `response_breach`, `resolution_breach`; never a ticket id).
    Alert rule `IncidentsTimerLatenessHigh` watches its p99.
    """
    return Histogram(
        "incidents_timer_lateness_seconds",
        "Delay between a timer's due time and the moment it fired, by timer kind.",
        ["timer"],
        buckets=TIMER_LATENESS_BUCKETS,
        registry=registry,
    )
