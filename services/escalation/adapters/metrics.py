"""Escalation's Prometheus metrics: what the clocks fired, observed once per stored change.

ClockUpdater calls `observe` only after the guarded write that stored a change (and its outbox)
succeeded, so a lost race that is retried counts nothing and a step counted is a step fired once.
Labels stay low-cardinality: tiers, triggers, severities, targets, roles, attempt numbers (bounded
by the page policy), vendor ids (from the policy file) and timer kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.escalation.domain.effects import Effects
from shared.contracts.escalation_events import (
    EscalationPageRequested,
    SlaBreached,
    SlaWarning,
    TicketEscalated,
    VendorHandoffSent,
    VendorReplyReceived,
)
from shared.metrics import timer_lateness_histogram
from shared.sla_metrics import CLOCK_TARGETS, SLA_BUCKETS, EscalationSlaMetrics, prime

TIMER_KINDS = (*(f"{t}_{step}" for t in CLOCK_TARGETS for step in ("warning", "breach")),
               "page_repeat", "oncall_step", "vendor_silence", "auto_close")


def timer_kind(key: str) -> str:
    """Return the low-cardinality timer label of a step key (e.g. response.0.warning.75 -> response_warning)."""
    parts = key.split(".")
    if parts[0] in CLOCK_TARGETS:
        return f"{parts[0]}_{'breach' if parts[-1] == 'breached' else 'warning'}"
    return {"page": "page_repeat", "oncall": "oncall_step", "vendor": "vendor_silence",
            "autoclose": "auto_close"}.get(parts[0], "other")


def first_answer_seconds(doc: dict[str, Any], reply: VendorReplyReceived) -> float | None:
    """Return hand-off-to-reply seconds if this reply is the first answer to the current hand-off, else None."""
    vendor = doc.get("vendor") or {}
    if vendor.get("handoff_id") != reply.handoff_id or vendor.get("replies") != [reply.reply_id]:
        return None
    sent_at = vendor.get("sent_at")
    return max(0.0, (reply.received_at - sent_at).total_seconds()) if sent_at is not None else None


@dataclass(frozen=True)
class EscalationMetrics:
    """SLA warnings/breaches, tier moves, pages, vendor hand-offs and answers, timer lateness."""

    sla: EscalationSlaMetrics
    escalations: Counter
    pages: Counter
    vendor_handoffs: Counter
    vendor_answer: Histogram
    timer_lateness: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry, vendors: Iterable[str] = ()) -> EscalationMetrics:
        """Return the set registered on escalation's registry; small label sets start at zero."""
        metrics = cls(
            sla=EscalationSlaMetrics.register(registry),
            escalations=Counter(
                "incidents_escalations_total",
                "Tier moves made by the escalation policy, by from/to tier and trigger.",
                ["from_tier", "to_tier", "reason"], registry=registry,
            ),
            pages=Counter(
                "incidents_pages_total",
                "Pages escalation requested (repeats and the contact chain), by contact role and attempt.",
                ["role", "attempt"], registry=registry,
            ),
            vendor_handoffs=Counter(
                "incidents_vendor_handoffs_total",
                "Tier 4 hand-offs sent to external vendors, by vendor.",
                ["vendor"], registry=registry,
            ),
            vendor_answer=Histogram(
                "incidents_vendor_answer_seconds",
                "Time from a vendor hand-off to the vendor's first reply, by vendor.",
                ["vendor"], buckets=SLA_BUCKETS, registry=registry,
            ),
            timer_lateness=timer_lateness_histogram(registry),
        )
        vendor_ids = [(v,) for v in vendors]
        prime(metrics.vendor_handoffs, vendor_ids)
        prime(metrics.vendor_answer, vendor_ids)
        prime(metrics.timer_lateness, [(kind,) for kind in TIMER_KINDS])
        return metrics

    def observe(self, doc: dict[str, Any], fx: Effects, now: datetime) -> None:
        """Count what one stored change fired; `doc` is the clock as stored, `now` the time it fired."""
        for event in fx.events:
            severity = event.severity.value if getattr(event, "severity", None) else "unknown"
            if isinstance(event, SlaWarning):
                self.sla.warnings.labels(severity, event.target).inc()
            elif isinstance(event, SlaBreached):
                self.sla.breaches.labels(severity, event.target).inc()
            elif isinstance(event, TicketEscalated):
                self.escalations.labels(str(event.from_tier), str(event.to_tier), event.trigger).inc()
            elif isinstance(event, EscalationPageRequested):
                self.pages.labels(event.role, str(event.attempt)).inc()
            elif isinstance(event, VendorHandoffSent):
                self.vendor_handoffs.labels(event.vendor_id).inc()
            elif isinstance(event, VendorReplyReceived):
                seconds = first_answer_seconds(doc, event)
                if seconds is not None:
                    self.vendor_answer.labels(event.vendor_id).observe(seconds)
        for key, due_at in fx.steps:
            self.timer_lateness.labels(timer_kind(key)).observe(max(0.0, (now - due_at).total_seconds()))
