"""SLA metrics for intake: observes measured outcomes and recounts work in flight from the open work."""

from __future__ import annotations

import asyncio
import logging

from services.intake.adapters.views import MongoViews
from services.intake.domain.work_in_flight import count_work_in_flight
from services.intake.settings import IntakeSettings
from shared.clock import Clock
from shared.contracts.sla_events import SlaMeasured
from shared.runtime import ServiceRuntime
from shared.sla.policy import SlaPolicy
from shared.sla_metrics import SlaMetrics

log = logging.getLogger(__name__)


class SlaObserver:
    """Turns stored SLA outcomes into counter increments and histogram observations."""

    def __init__(self, metrics: SlaMetrics) -> None:
        self.metrics = metrics

    def __call__(self, outcome: SlaMeasured) -> None:
        """Observe a response or resolution outcome once (called only after it is stored on the ticket)."""
        if outcome.target in ("response", "resolution") and outcome.severity is not None:
            self.metrics.observe(outcome.target, outcome.severity.value, outcome.outcome == "met",
                                 outcome.elapsed_seconds)


async def recount_work_in_flight(views: MongoViews, metrics: SlaMetrics, clock: Clock, sla: SlaPolicy) -> int:
    """Recount open, at-risk and overdue tickets from the open work into the gauges; return how many were read."""
    entries = await views.open_entries()
    counts = count_work_in_flight(entries, clock.now(), sla.calendar, sla.at_risk_fraction)
    metrics.set_work_in_flight(dict(counts.open_tickets), dict(counts.at_risk), dict(counts.overdue))
    return len(entries)


async def refresh_forever(views: MongoViews, metrics: SlaMetrics, clock: Clock, *, every_seconds: float,
                          sla: SlaPolicy) -> None:
    """Recount now and then every every_seconds for the life of the service; a failed pass is logged and retried."""
    while True:
        try:
            await recount_work_in_flight(views, metrics, clock, sla)
        except asyncio.CancelledError:
            raise
        except Exception:  # the gauges keep their last values; the next pass retries
            log.exception("work-in-flight recount failed")
        await asyncio.sleep(every_seconds)


def install(runtime: ServiceRuntime, settings: IntakeSettings, clock: Clock, sla: SlaPolicy) -> SlaObserver:
    """Register intake's SLA metrics and the periodic recount on the runtime; return the outcome observer."""
    metrics = SlaMetrics.register(runtime.registry)
    runtime.background(lambda: refresh_forever(
        MongoViews(runtime.db, fresh_seconds=settings.view_cache_seconds), metrics, clock, every_seconds=settings.work_in_flight_refresh_seconds, sla=sla,
    ))
    return SlaObserver(metrics)
