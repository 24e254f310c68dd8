"""Escalation's metrics count each fired step once: after the write that stored it, never on a lost race."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from prometheus_client import CollectorRegistry

from services.escalation.adapters.metrics import EscalationMetrics, timer_kind
from services.escalation.domain.inbound import on_vendor_reply
from shared.contracts import Severity
from shared.contracts.escalation_events import VendorHandoff, VendorReply
from tests.escalation_harness import Scenario
from tests.fakes_escalation import FakeClocks

H, M = timedelta(hours=1), timedelta(minutes=1)


class RacingClocks(FakeClocks):
    """Clocks where another writer wins the next `races` saves (the revision moves under the caller)."""

    def __init__(self, races: int = 0) -> None:
        super().__init__()
        self.races = races

    async def save(self, before, after, outbox, vendor_outbox, condition=None):
        if self.races > 0 and before["_id"] in self.clocks:
            self.races -= 1
            self.clocks[before["_id"]]["rev"] += 1
            return None
        return await super().save(before, after, outbox, vendor_outbox, condition)


def scenario(store: FakeClocks | None = None) -> tuple[Scenario, CollectorRegistry]:
    s = Scenario()
    if store is not None:
        s.store = s.work.store = s.timers._store = store
    registry = CollectorRegistry()
    s.work.metrics = EscalationMetrics.register(registry, vendors=s.policy.vendors)
    return s, registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def counted(registry: CollectorRegistry, name: str, label: str) -> Counter:
    """Return {label value: count} of a counter's non-zero samples."""
    found: Counter = Counter()
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name and sample.value:
                found[sample.labels[label]] += int(sample.value)
    return found


def owed(s: Scenario, event_type: str, field: str) -> Counter:
    return Counter(str(p[field]) for p in s.events(event_type))


def test_small_label_sets_start_at_zero():
    _, registry = scenario()
    assert value(registry, "incidents_sla_breaches_total", severity="low", target="handoff") == 0
    assert registry.get_sample_value("incidents_sla_warnings_total", {"severity": "critical", "target": "response"}) == 0
    assert registry.get_sample_value("incidents_vendor_handoffs_total", {"vendor": "acme"}) == 0
    assert registry.get_sample_value("incidents_timer_lateness_seconds_count", {"timer": "response_breach"}) == 0


def test_timer_kinds_are_a_small_fixed_set():
    assert [timer_kind(k) for k in ("response.0.warning.75", "resolution.2.breached", "handoff.0.warning.90",
                                    "page.t-p1.repeat.2", "vendor.t-v1.silent.0", "autoclose.2026-01-05")] == [
        "response_warning", "resolution_breach", "handoff_warning", "page_repeat", "vendor_silence", "auto_close"]


async def test_every_fired_step_is_counted_once_and_its_lateness_observed():
    s, registry = scenario()
    await s.open(severity=Severity.HIGH, tier=1, team="service-desk")
    await s.at(45 * M)
    await s.at(45 * M)  # the same instant again: nothing is due any more, nothing counted twice
    assert value(registry, "incidents_sla_warnings_total", severity="high", target="response") == 1
    assert value(registry, "incidents_timer_lateness_seconds_count", timer="response_warning") == 1
    assert value(registry, "incidents_timer_lateness_seconds_sum", timer="response_warning") == 0
    # three unacknowledged repeats fell due at 10, 20 and 30 minutes and fired together at 45
    assert counted(registry, "incidents_pages_total", "attempt") == owed(s, "escalation.page_requested", "attempt")
    assert value(registry, "incidents_timer_lateness_seconds_count", timer="page_repeat") == 3
    assert value(registry, "incidents_timer_lateness_seconds_sum", timer="page_repeat") == (35 + 25 + 15) * 60
    await s.at(2 * H)  # the response breach escalates Tier 1 -> 2 and starts the hand-off clock
    await s.at(5 * H)  # the hand-off breach pages the lead
    assert owed(s, "sla.breached", "target") == Counter({"response": 1, "handoff": 1})
    assert counted(registry, "incidents_sla_breaches_total", "target") == owed(s, "sla.breached", "target")
    assert counted(registry, "incidents_sla_warnings_total", "target") == owed(s, "sla.warning", "target")
    assert counted(registry, "incidents_escalations_total", "reason") == Counter({"response_breached": 1})
    assert value(registry, "incidents_escalations_total", from_tier="1", to_tier="2", reason="response_breached") == 1
    assert counted(registry, "incidents_pages_total", "role") == owed(s, "escalation.page_requested", "role")
    assert value(registry, "incidents_timer_lateness_seconds_sum", timer="response_breach") == 3600


async def test_a_lost_race_counts_nothing_and_the_retry_counts_once():
    store = RacingClocks()
    s, registry = scenario(store)
    await s.open(severity=Severity.MEDIUM, tier=2, team="technical-support")
    store.races = 2  # the timer loop's first two writes lose; the third stores the warning
    await s.at(50 * M)
    assert store.races == 0, "both lost races happened"
    assert len(s.events("sla.warning")) == 1
    assert value(registry, "incidents_sla_warnings_total", severity="medium", target="response") == 1
    assert value(registry, "incidents_timer_lateness_seconds_count", timer="response_warning") == 1


async def test_initial_escalations_hand_offs_and_the_first_vendor_answer_are_counted():
    s, registry = scenario()
    await s.open(report={"component": "payments-gateway"}, severity=Severity.HIGH, tier=2, team="technical-support")
    assert value(registry, "incidents_escalations_total", from_tier="2", to_tier="4", reason="third_party") == 1
    assert value(registry, "incidents_vendor_handoffs_total", vendor="acme") == 1
    handoff = VendorHandoff.model_validate(s.doc()["vendor_outbox"][0]["body"])
    s.clock.set(s.start + 90 * M)
    for n in (1, 2):  # only the first answer measures the hand-off; the second is an update
        reply = VendorReply(reply_id=f"r{n}", handoff_id=handoff.handoff_id, vendor_id="acme",
                            ticket_id=handoff.ticket_id, kind="acknowledged", note="on it", sent_at=s.clock.now())
        await s.work.apply(reply.ticket_id, f"vendor-reply:{reply.reply_id}",
                           lambda doc, ctx, fx, reply=reply: on_vendor_reply(doc, reply, ctx, fx))
    assert value(registry, "incidents_vendor_answer_seconds_count", vendor="acme") == 1
    assert value(registry, "incidents_vendor_answer_seconds_sum", vendor="acme") == 90 * 60
