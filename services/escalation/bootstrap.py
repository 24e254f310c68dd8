"""Builds the escalation service: the only place its objects are wired together."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from services.escalation.adapters import clocks, oncall_handoffs
from services.escalation.adapters.metrics import EscalationMetrics
from services.escalation.adapters.oncall_file import OnCallFile, load_oncall_file
from services.escalation.adapters.oncall_metrics import CoverageGauge
from services.escalation.adapters.oncall_store import MongoOnCallStore
from services.escalation.adapters.policy_file import load_policy
from services.escalation.domain.policy import EscalationPolicy
from services.escalation.entrypoints import oncall_api, oncall_feeds
from services.escalation.entrypoints.oncall_auth import IdentifyFirst
from services.escalation.entrypoints.oncall_loops import run_oncall_loops
from services.escalation.entrypoints.timers import TimerLoop
from services.escalation.entrypoints.vendors import (
    VendorOutbox,
    VendorReplyConsumer,
    open_vendor_exchange,
)
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers
from services.escalation.service_layer.oncall_catalog import OnCallCatalog
from services.escalation.service_layer.oncall_handoffs import HandoffNotices
from services.escalation.settings import EscalationSettings
from shared.clock import Clock, FileOffsetClock, SystemClock
from shared.config_files import LoadedFile
from shared.config_view import install_config_route
from shared.http import create_service_app
from shared.identities import IntakeIdentities
from shared.messaging.identity import vhost_of
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings
from shared.sla.config import load_service_levels


def clock_for(settings: EscalationSettings) -> Clock:
    """Return the system clock, or the movable test clock when TEST_CLOCK_FILE is set (ENVIRONMENT=test only)."""
    return FileOffsetClock(settings.test_clock_file) if settings.test_clock_file is not None else SystemClock()


def build_runtime(settings: EscalationSettings | None = None, clock: Clock | None = None,
                  policy: EscalationPolicy | None = None, state: Any = None,
                  loaded: list[LoadedFile] | None = None) -> ServiceRuntime:
    """Return the escalation runtime: event consumer, timer loop, vendor relay, on-call catalog and loops.

    `state` (the app's state) receives what the HTTP routes use once the runtime has connected; the policy
    file's text is appended to `loaded` when given.
    """
    settings = settings or load_settings(EscalationSettings)
    clock = clock or clock_for(settings)
    state = state if state is not None else SimpleNamespace()
    policy = policy or load_policy(load_service_levels(settings.service_levels_file), settings.escalation_policy_file,
                                   loaded=loaded)
    oncall_file: OnCallFile | None = load_oncall_file(settings.oncall_file) if settings.oncall_file else None
    runtime = ServiceRuntime("escalation", settings)
    runtime.indexes += clocks.INDEXES
    runtime.outbox_collections += [clocks.COLLECTION, oncall_handoffs.COLLECTION]
    metrics = EscalationMetrics.register(runtime.registry, vendors=policy.vendors)
    gauge = CoverageGauge(runtime.registry)
    state.settings, state.clock = settings, clock

    async def wire(rt: ServiceRuntime) -> None:
        store = clocks.MongoClocks(rt.db)
        catalog = OnCallCatalog(MongoOnCallStore(rt.db), oncall_file, cache_seconds=settings.oncall_cache_seconds)
        await catalog.snapshot()  # a file that does not combine with what is stored stops escalation here
        http_client = httpx.AsyncClient(timeout=10, follow_redirects=False)
        state.oncall, state.identities = catalog, IntakeIdentities(http_client, settings.intake_url)
        assert rt.connection is not None
        vendor_channel = await rt.connection.channel(publisher_confirms=True)
        vendor_outbox = VendorOutbox(store, await open_vendor_exchange(vendor_channel),
                                     poll_seconds=settings.outbox_poll_seconds)

        def wake(ticket_id: str, vendor_messages: bool, document: dict | None = None) -> None:
            if rt.relay is not None:
                rt.relay.hint(clocks.COLLECTION, ticket_id, document)
            if vendor_messages:
                vendor_outbox.hint(ticket_id)

        def hint(collection: str, document_id: str, document: dict) -> None:
            if rt.relay is not None:
                rt.relay.hint(collection, document_id, document)

        updater = ClockUpdater(store, policy, clock, settings.escalation_number_prefix, on_outbox=wake,
                               metrics=metrics, oncall=catalog)
        loop = TimerLoop(updater, store, clock, poll_seconds=settings.timer_poll_seconds,
                         lease=timedelta(seconds=settings.timer_lease_seconds))
        # the clock record is the inbox: it remembers the events it applied, in the same write
        rt.consume(CONSUMER_QUEUES["escalation"], handlers(updater), inbox=False)
        replies = VendorReplyConsumer(updater, delivery_limit=settings.delivery_limit,
                                      vhost=vhost_of(settings.amqp_url))
        await replies.start(await rt.connection.channel(publisher_confirms=True), settings.amqp_prefetch)
        rt.background(loop.run)
        rt.background(vendor_outbox.run)
        notices = HandoffNotices(catalog, oncall_handoffs.MongoHandoffs(rt.db), clock, on_outbox=hint)
        rt.background(partial(run_oncall_loops, catalog, gauge, notices, clock,
                              timedelta(days=settings.oncall_gap_horizon_days), settings.oncall_refresh_seconds))
        rt.background(partial(_close_on_cancel, http_client))

    runtime.on_startup(wire)
    return runtime


async def _close_on_cancel(client: httpx.AsyncClient) -> None:
    """Hold the HTTP client until the service stops, then close it."""
    try:
        await asyncio.Event().wait()
    finally:
        await client.aclose()


def build_app(settings: EscalationSettings | None = None, clock: Clock | None = None,
              policy: EscalationPolicy | None = None) -> FastAPI:
    """Return the escalation app (see build_runtime); a bad policy, rules or on-call file fails here."""
    settings = settings or load_settings(EscalationSettings)
    clock = clock or clock_for(settings)
    state = SimpleNamespace()
    loaded: list[LoadedFile] = []
    runtime = build_runtime(settings, clock, policy, state=state, loaded=loaded)
    app = create_service_app(runtime, title="Incidents escalation",
                             description="SLA clocks, escalation and on-call: schedules, who is on call, pages")
    for name, value in vars(state).items():
        setattr(app.state, name, value)

    async def publish_state(rt: ServiceRuntime) -> None:
        for name, value in vars(state).items():
            setattr(app.state, name, value)

    runtime.on_startup(publish_state)
    app.include_router(oncall_api.router)
    app.include_router(oncall_feeds.router)
    install_config_route(app, "escalation", loaded, clock.now(), IntakeIdentities(httpx.AsyncClient(timeout=5.0),
                                                                                  settings.intake_url))
    app.add_middleware(IdentifyFirst, state=app.state)
    return app
