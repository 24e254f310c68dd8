"""Builds the intake gateway: the only place its objects are wired together."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from fastapi import FastAPI

from services.intake.adapters import (
    api_keys,
    attachments,
    handoff_notices,
    idempotency,
    sla_metrics,
    tickets,
    views,
    votes,
)
from services.intake.entrypoints import (
    ack_page,
    actions_api,
    admin_api,
    attachments_api,
    features_api,
    identity_api,
    reports_api,
    tickets_api,
)
from services.intake.entrypoints.auth import AuthenticateFirst, FailedAuthentications
from services.intake.entrypoints.mail_intake import (
    SupportMailbox,
    close_on_cancel,
    start_mailbox,
)
from services.intake.entrypoints.ratelimit import TokenBuckets
from services.intake.service_layer.event_handlers import handlers
from services.intake.service_layer.handoff_notices import prepare_notice
from services.intake.settings import IntakeSettings
from shared.clock import Clock, SystemClock, poll_forever
from shared.http import create_service_app
from shared.locks import KeyedLocks
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings
from shared.sla.config import load_service_levels

ATTACHMENT_UPLOAD = r"^/v1/tickets/[^/]+/attachments$"


def build_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the intake app: the HTTP API, plus a consumer applying other services' events."""
    settings = settings or load_settings(IntakeSettings)
    clock = clock or SystemClock()
    runtime = ServiceRuntime("intake", settings)
    runtime.indexes += tickets.INDEXES + api_keys.INDEXES + votes.INDEXES + idempotency.INDEXES + attachments.INDEXES
    runtime.outbox_collections += [tickets.COLLECTION, handoff_notices.COLLECTION]
    runtime.recovered_collections.add(tickets.COLLECTION)  # MongoTickets.recover() scans it at start
    runtime.settled_marks[tickets.COLLECTION] = tickets.VIEWS_PENDING
    ticket_locks = runtime.document_locks[tickets.COLLECTION] = KeyedLocks()
    app = create_service_app(
        runtime,
        title="Incidents intake API",
        description="Report incidents, bug reports and feature requests, and follow them (KB-005).",
        max_body_bytes=settings.max_body_bytes,
        body_limits=[(ATTACHMENT_UPLOAD, settings.max_attachment_bytes)],
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.rate_limiter = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
    levels = load_service_levels(settings.service_levels_file)
    app.state.sla = levels.sla
    app.state.auth_failures = FailedAuthentications(settings.auth_failures_per_minute, 60.0)
    observe_outcome = sla_metrics.install(runtime, settings, clock, levels.sla)

    async def wire(rt: ServiceRuntime) -> None:
        app.state.views = ticket_views = views.MongoViews(rt.db)
        store = tickets.MongoTickets(rt.db, ticket_locks, on_outbox=rt.relay.hint, views=ticket_views)
        app.state.tickets = store
        recovered = await store.recover()  # what a crash left: views to write, events to publish
        if recovered:
            logging.getLogger(__name__).warning("recovered tickets a crash left half-done",
                                                extra={"x_tickets": recovered})
        app.state.api_keys = api_keys.MongoApiKeys(rt.db, clock)
        app.state.votes = votes.MongoVotes(rt.db)
        app.state.idempotency = idempotency.MongoIdempotency(rt.db)
        rt.background(lambda: poll_forever("idempotency expiry", lambda: app.state.idempotency.expire(clock.now()),
                                           asyncio.Event(), 60.0))
        app.state.attachments = attachments.MongoAttachments(rt.db)
        if settings.smtp_intake_enabled:
            mailbox = SupportMailbox(settings=settings, tickets=store, api_keys=app.state.api_keys,
                                     attachments=app.state.attachments, clock=clock)
            server = await start_mailbox(mailbox, settings.smtp_intake_host, settings.smtp_intake_port)
            rt.background(lambda: close_on_cancel(server))
        event_handlers = handlers(store, clock, observe_outcome)
        # a hand-off notice is its own document, inserted once per announcing event
        event_handlers["oncall.shift_started"] = partial(
            prepare_notice, views=ticket_views, notices=handoff_notices.MongoHandoffNotices(rt.db), clock=clock,
            calendar=levels.sla.calendar, at_risk=levels.sla.at_risk_fraction, on_outbox=rt.relay.hint)
        # the ticket is the inbox: it remembers the events it applied, in the same write
        rt.consume(CONSUMER_QUEUES["intake"], event_handlers, inbox=False)

    runtime.on_startup(wire)
    for api in (tickets_api, actions_api, features_api, attachments_api, reports_api, identity_api, admin_api,
                ack_page):
        app.include_router(api.router)
    app.add_middleware(AuthenticateFirst, state=app.state, failures=app.state.auth_failures)
    return app
