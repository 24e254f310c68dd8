"""Builds the intake gateway: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import create_service_app
from shared.locks import KeyedLocks
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from services.intake.adapters import api_keys, tickets
from services.intake.entrypoints.http import router
from services.intake.handlers import apply_triage, record_notification
from services.intake.settings import IntakeSettings


def build_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the intake app: the HTTP API, plus a consumer applying other services' events."""
    settings = settings or IntakeSettings()
    clock = clock or SystemClock()
    runtime = ServiceRuntime("intake", settings)
    runtime.indexes += tickets.INDEXES + api_keys.INDEXES
    runtime.outbox_collections.append(tickets.COLLECTION)
    ticket_locks = runtime.document_locks[tickets.COLLECTION] = KeyedLocks()
    app = create_service_app(
        runtime,
        title="Incidents intake API",
        description="Report incidents, bug reports and feature requests, and follow them (KB-005).",
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.settings = settings
    app.state.clock = clock

    async def wire(rt: ServiceRuntime) -> None:
        store = tickets.MongoTickets(rt.db, ticket_locks)
        app.state.tickets = store
        app.state.api_keys = api_keys.MongoApiKeys(rt.db)
        apply_notification = partial(record_notification, tickets=store, clock=clock)
        rt.consume(
            CONSUMER_QUEUES["intake"],
            {
                "ticket.triaged": partial(apply_triage, tickets=store, clock=clock),
                "notification.delivered": apply_notification,
                "notification.failed": apply_notification,
            },
        )

    runtime.on_startup(wire)
    app.include_router(router)
    return app
