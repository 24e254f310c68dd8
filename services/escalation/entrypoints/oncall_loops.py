"""Escalation's on-call background work: the coverage-gap gauge and the hand-off notices, every refresh."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.escalation.adapters.oncall_metrics import CoverageGauge
from services.escalation.service_layer.clock_updates import OnCallSource
from services.escalation.service_layer.oncall_handoffs import HandoffNotices
from services.escalation.service_layer.oncall_queries import gap_seconds_by_team
from shared.clock import Clock, poll_forever


async def refresh_gauge(oncall: OnCallSource, gauge: CoverageGauge, clock: Clock, horizon: timedelta) -> None:
    """Recompute every team's coverage gaps from now to now + horizon."""
    config = await oncall.current()
    now = clock.now()
    gauge.set(gap_seconds_by_team(config, now, now + horizon) if config is not None else {})


async def run_oncall_loops(oncall: OnCallSource, gauge: CoverageGauge, handoffs: HandoffNotices, clock: Clock,
                           horizon: timedelta, seconds: float) -> None:
    """Refresh the gauge and send hand-off notices every `seconds`, forever."""

    async def once() -> None:
        await refresh_gauge(oncall, gauge, clock, horizon)
        await handoffs.run_once()

    await poll_forever("on-call", once, asyncio.Event(), seconds)
