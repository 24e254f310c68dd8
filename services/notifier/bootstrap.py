"""Builds the notifier service: the only place its objects are wired together."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import create_service_app
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from services.notifier.adapters import deliveries
from services.notifier.adapters.email import EmailSender, SmtpEmailSender
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.handlers import acknowledge_reporter
from services.notifier.settings import NotifierSettings


def build_app(settings: NotifierSettings | None = None, clock: Clock | None = None, sender: EmailSender | None = None) -> FastAPI:
    """Return the notifier app: e-mails reporters when their ticket is triaged."""
    settings = settings or NotifierSettings()
    clock = clock or SystemClock()
    sender = sender or SmtpEmailSender(settings)
    renderer = TemplateRenderer()
    runtime = ServiceRuntime("notifier", settings)
    runtime.indexes += deliveries.INDEXES

    async def wire(rt: ServiceRuntime) -> None:
        store = deliveries.MongoDeliveries(rt.db)
        rt.consume(
            CONSUMER_QUEUES["notifier"],
            {"ticket.triaged": partial(acknowledge_reporter, deliveries=store, sender=sender,
                                       renderer=renderer, settings=settings, clock=clock)},
        )

    runtime.on_startup(wire)
    return create_service_app(runtime, title="Incidents notifier", description="E-mail, webhook and chat delivery")
