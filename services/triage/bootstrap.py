"""Builds the triage service: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import create_service_app
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from services.triage.handlers import triage_reported_ticket
from services.triage.settings import TriageSettings


def build_app(settings: TriageSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the triage app: consumes ticket.reported, emits ticket.triaged."""
    settings = settings or TriageSettings()
    clock = clock or SystemClock()
    runtime = ServiceRuntime("triage", settings)
    runtime.consume(
        CONSUMER_QUEUES["triage"],
        {"ticket.reported": partial(triage_reported_ticket, clock=clock)},
    )
    return create_service_app(runtime, title="Incidents triage", description="Classification and SLA targets")
