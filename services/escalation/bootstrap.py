"""Builds the escalation service: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import create_service_app
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from services.escalation.adapters import clocks
from services.escalation.handlers import note_failed_notification, start_sla_clock
from services.escalation.settings import EscalationSettings


def build_app(settings: EscalationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the escalation app: stores an SLA clock for every triaged ticket."""
    settings = settings or EscalationSettings()
    clock = clock or SystemClock()
    runtime = ServiceRuntime("escalation", settings)
    runtime.indexes += clocks.INDEXES

    async def wire(rt: ServiceRuntime) -> None:
        store = clocks.MongoClocks(rt.db)
        rt.consume(
            CONSUMER_QUEUES["escalation"],
            {
                "ticket.triaged": partial(start_sla_clock, clocks=store, clock=clock),
                "notification.failed": partial(note_failed_notification, clock=clock),
            },
        )

    runtime.on_startup(wire)
    return create_service_app(runtime, title="Incidents escalation", description="SLA clocks and escalation")
