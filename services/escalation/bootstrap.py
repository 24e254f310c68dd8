"""Builds the escalation service: the only place its objects are wired together."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from services.escalation.adapters import clocks
from services.escalation.adapters.metrics import EscalationMetrics
from services.escalation.adapters.policy_file import load_policy
from services.escalation.domain.policy import EscalationPolicy
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.entrypoints.vendors import (
    VendorOutbox,
    VendorReplyConsumer,
    open_vendor_exchange,
)
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers
from services.escalation.settings import EscalationSettings
from shared.clock import Clock, SystemClock
from shared.config_files import LoadedFile
from shared.config_view import install_config_route
from shared.http import create_service_app
from shared.identities import IntakeIdentities
from shared.locks import KeyedLocks
from shared.messaging.identity import vhost_of
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings
from shared.sla.config import load_service_levels


def build_runtime(settings: EscalationSettings | None = None, clock: Clock | None = None,
                  policy: EscalationPolicy | None = None, loaded: list[LoadedFile] | None = None) -> ServiceRuntime:
    """Return the escalation runtime: event consumer, timer loop, vendor relay and reply consumer.

    The policy file's text is appended to `loaded` when given.
    """
    settings = settings or load_settings(EscalationSettings)
    clock = clock or SystemClock()
    policy = policy or load_policy(load_service_levels(settings.service_levels_file), settings.escalation_policy_file,
                                   loaded=loaded)
    runtime = ServiceRuntime("escalation", settings)
    runtime.indexes += clocks.INDEXES
    runtime.outbox_collections.append(clocks.COLLECTION)
    clock_locks = runtime.document_locks.setdefault(clocks.COLLECTION, KeyedLocks())
    metrics = EscalationMetrics.register(runtime.registry, vendors=policy.vendors)

    async def wire(rt: ServiceRuntime) -> None:
        store = clocks.MongoClocks(rt.db, clock_locks)
        assert rt.connection is not None
        vendor_channel = await rt.connection.channel(publisher_confirms=True)
        vendor_outbox = VendorOutbox(store, await open_vendor_exchange(vendor_channel),
                                     poll_seconds=settings.outbox_poll_seconds)

        def wake(ticket_id: str, vendor_messages: bool, document: dict | None = None) -> None:
            if rt.relay is not None:
                rt.relay.hint(clocks.COLLECTION, ticket_id, document)
            if vendor_messages:
                vendor_outbox.hint(ticket_id)

        updater = ClockUpdater(store, policy, clock, settings.escalation_number_prefix, on_outbox=wake,
                               metrics=metrics)
        loop = TimerLoop(updater, store, clock, poll_seconds=settings.timer_poll_seconds,
                         lease=timedelta(seconds=settings.timer_lease_seconds))
        # the clock record is the inbox: it remembers the events it applied, in the same write
        rt.consume(CONSUMER_QUEUES["escalation"], handlers(updater), inbox=False)
        replies = VendorReplyConsumer(updater, delivery_limit=settings.delivery_limit,
                                      vhost=vhost_of(settings.amqp_url))
        await replies.start(await rt.connection.channel(publisher_confirms=True), settings.amqp_prefetch)
        rt.background(loop.run)
        rt.background(vendor_outbox.run)

    runtime.on_startup(wire)
    return runtime


def build_app(settings: EscalationSettings | None = None, clock: Clock | None = None,
              policy: EscalationPolicy | None = None) -> FastAPI:
    """Return the escalation app (see build_runtime); a bad policy or rules file fails here."""
    settings = settings or load_settings(EscalationSettings)
    clock = clock or SystemClock()
    loaded: list[LoadedFile] = []
    runtime = build_runtime(settings, clock, policy, loaded)
    app = create_service_app(runtime, title="Incidents escalation", description="SLA clocks and escalation")
    install_config_route(app, "escalation", loaded, clock.now(), IntakeIdentities(httpx.AsyncClient(timeout=5.0),
                                                                                  settings.intake_url))
    return app
