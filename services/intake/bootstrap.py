"""Builds the intake gateway: the only place its objects are wired together."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.intake.adapters import (
    api_keys,
    attachments,
    idempotency,
    integrations,
    sla_metrics,
    source_records,
    tickets,
    views,
    votes,
)
from services.intake.adapters.integration_metrics import IntegrationMetrics
from services.intake.adapters.slack_web import SlackWebApi
from services.intake.domain.events_v2 import MAX_BODY_BYTES as EVENTS_V2_MAX_BODY_BYTES
from services.intake.entrypoints import (
    actions_api,
    admin_api,
    attachments_api,
    features_api,
    identity_api,
    integrations_api,
    reports_api,
    slack_api,
    tickets_api,
)
from services.intake.entrypoints.auth import AuthenticateFirst, FailedAuthentications
from services.intake.entrypoints.inbound import InboundGuard
from services.intake.entrypoints.mail_intake import (
    SupportMailbox,
    close_on_cancel,
    start_mailbox,
)
from services.intake.entrypoints.ratelimit import TokenBuckets
from services.intake.service_layer.alerts import AlertsIn
from services.intake.service_layer.chat import ChatIn
from services.intake.service_layer.event_handlers import handlers
from services.intake.settings import IntakeSettings
from shared.clock import Clock, SystemClock, poll_forever
from shared.http import create_service_app
from shared.locks import KeyedLocks
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings
from shared.sla.config import load_service_levels

ATTACHMENT_UPLOAD = r"^/v1/tickets/[^/]+/attachments$"
EVENTS_V2_ENQUEUE = r"^/v2/enqueue$"


def build_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the intake app: the HTTP API, plus a consumer applying other services' events."""
    settings = settings or load_settings(IntakeSettings)
    clock = clock or SystemClock()
    runtime = ServiceRuntime("intake", settings)
    runtime.indexes += (tickets.INDEXES + api_keys.INDEXES + votes.INDEXES + idempotency.INDEXES + attachments.INDEXES
                        + integrations.INDEXES)
    runtime.outbox_collections.append(tickets.COLLECTION)
    runtime.recovered_collections.add(tickets.COLLECTION)  # MongoTickets.recover() scans it at start
    runtime.settled_marks[tickets.COLLECTION] = tickets.VIEWS_PENDING
    ticket_locks = runtime.document_locks[tickets.COLLECTION] = KeyedLocks()
    app = create_service_app(
        runtime,
        title="Incidents intake API",
        description="Report incidents, bug reports and feature requests, and follow them (KB-005).",
        max_body_bytes=settings.max_body_bytes,
        body_limits=[(ATTACHMENT_UPLOAD, settings.max_attachment_bytes), (EVENTS_V2_ENQUEUE, EVENTS_V2_MAX_BODY_BYTES)],
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.rate_limiter = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
    levels = load_service_levels(settings.service_levels_file)
    app.state.sla = levels.sla
    observe_outcome = sla_metrics.install(runtime, settings, clock, levels.sla)
    failures = FailedAuthentications(settings.auth_failures_per_minute, 60.0)
    app.state.inbound = InboundGuard(failures, IntegrationMetrics(runtime.registry), settings.integration_max_in_flight,
                                     target_seconds=settings.integration_latency_target_seconds)
    source_locks = KeyedLocks()
    pending: set[asyncio.Task] = set()
    one_at_a_time = asyncio.Semaphore(1)

    async def in_turn(work) -> None:
        async with one_at_a_time:  # deferred ticket notes never compete with answers for the database
            await work()

    def after_answer(work) -> None:
        """Run work in the background, one at a time (kept referenced until done; a failure is logged)."""
        task = asyncio.create_task(in_turn(work))
        pending.add(task)
        task.add_done_callback(pending.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or logging.getLogger(__name__).error(
            "deferred work failed", exc_info=t.exception()))

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
        app.state.integrations = integrations.MongoIntegrations(rt.db)
        app.state.alerts_in = AlertsIn(source_records.MongoSourceRecords(rt.db, source_records.ALERT_GROUPS), store,
                                       clock, settings.ticket_prefix, source_locks, defer=after_answer)
        app.state.chat_in = ChatIn(source_records.MongoSourceRecords(rt.db, source_records.SLACK_REQUESTS), store,
                                   clock, settings.ticket_prefix, source_locks)
        app.state.slack_web = slack_web = SlackWebApi(settings.slack_api_url)
        rt.background(lambda: close_on_cancel_client(slack_web))
        if settings.smtp_intake_enabled:
            mailbox = SupportMailbox(settings=settings, tickets=store, api_keys=app.state.api_keys,
                                     attachments=app.state.attachments, clock=clock)
            server = await start_mailbox(mailbox, settings.smtp_intake_host, settings.smtp_intake_port)
            rt.background(lambda: close_on_cancel(server))
        # the ticket is the inbox: it remembers the events it applied, in the same write
        rt.consume(CONSUMER_QUEUES["intake"], handlers(store, clock, observe_outcome), inbox=False)

    runtime.on_startup(wire)
    for api in (tickets_api, actions_api, features_api, attachments_api, reports_api, identity_api, admin_api,
                integrations_api, slack_api):
        app.include_router(api.router)
    app.add_middleware(AuthenticateFirst, state=app.state, failures=failures)
    return app


async def close_on_cancel_client(client: SlackWebApi) -> None:
    """Keep the Slack client open for the life of the service, then close it."""
    try:
        await asyncio.Event().wait()
    finally:
        await client.close()
