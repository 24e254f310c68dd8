"""Builds the intake gateway: the only place its objects are wired together."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.intake.adapters import (
    api_keys,
    attachments,
    handoff_notices,
    idempotency,
    integrations,
    mailer,
    service_calls,
    sign_in_tokens,
    sla_metrics,
    source_records,
    tickets,
    views,
    votes,
    web_sessions,
)
from services.intake.adapters.dkim_verifier import DkimVerifier, load_pinned_keys
from services.intake.adapters.integration_metrics import IntegrationMetrics
from services.intake.adapters.mail_receipts import MongoMailReceipts
from services.intake.adapters.slack_web import SlackWebApi
from services.intake.domain.events_v2 import MAX_BODY_BYTES as EVENTS_V2_MAX_BODY_BYTES
from services.intake.entrypoints import (
    ack_page,
    actions_api,
    admin_api,
    attachments_api,
    console_admin,
    console_features,
    console_queue,
    console_sla,
    console_ticket,
    features_api,
    identity_api,
    integrations_api,
    portal_auth,
    portal_report,
    portal_tickets,
    portal_widget,
    reports_api,
    slack_api,
    tickets_api,
)
from services.intake.entrypoints.auth import AuthenticateFirst, FailedAuthentications
from services.intake.entrypoints.console_web import StaffDirectory
from services.intake.entrypoints.inbound import InboundGuard
from services.intake.entrypoints.mail_intake import SupportMailbox, close_on_cancel
from services.intake.entrypoints.portal_web import STATIC, Portal
from services.intake.entrypoints.ratelimit import TokenBuckets, share_of
from services.intake.entrypoints.smtp_server import start_smtp
from services.intake.service_layer.alerts import AlertsIn
from services.intake.service_layer.chat import ChatIn
from services.intake.service_layer.combining import TicketEventCombiner
from services.intake.service_layer.event_handlers import handlers
from services.intake.service_layer.handoff_notices import prepare_notice
from services.intake.service_layer.mail import MailIntake
from services.intake.service_layer.open_queue import OpenQueue
from services.intake.service_layer.sign_in import SignInRules
from services.intake.service_layer.view_migrations import migrate_views
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
PORTAL_UPLOADS = r"^/(report(/bug)?|feature-requests|tickets/[^/]+/(comments|attachments))$"


def build_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Return the intake app: the HTTP API, plus a consumer applying other services' events."""
    settings = settings or load_settings(IntakeSettings)
    clock = clock or SystemClock()
    runtime = ServiceRuntime("intake", settings)
    runtime.indexes += (tickets.INDEXES + api_keys.INDEXES + votes.INDEXES + idempotency.INDEXES + attachments.INDEXES
                        + integrations.INDEXES)
    runtime.outbox_collections += [tickets.COLLECTION, handoff_notices.COLLECTION]
    runtime.recovered_collections.add(tickets.COLLECTION)  # MongoTickets.recover() scans it at start
    runtime.settled_marks[tickets.COLLECTION] = tickets.VIEWS_PENDING
    app = create_service_app(
        runtime,
        title="Incidents intake API",
        description="Report incidents, bug reports and feature requests, and follow them (KB-005).",
        max_body_bytes=settings.max_body_bytes,
        body_limits=[(ATTACHMENT_UPLOAD, settings.max_attachment_bytes),
                     (PORTAL_UPLOADS, settings.portal_max_upload_bytes),
                     (EVENTS_V2_ENQUEUE, EVENTS_V2_MAX_BODY_BYTES)],
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.rate_limiter = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst,
                                          replicas=settings.replicas)
    levels = load_service_levels(settings.service_levels_file)
    app.state.sla = levels.sla
    app.state.auth_failures = FailedAuthentications(share_of(settings.auth_failures_per_minute, settings.replicas), 60.0)
    observe_outcome = sla_metrics.install(runtime, settings, clock, levels.sla)
    dkim_keys = load_pinned_keys(settings.mail_dkim_keys_file)  # a bad file stops start-up, naming the line
    app.state.inbound = InboundGuard(app.state.auth_failures, IntegrationMetrics(runtime.registry),
                                     settings.integration_max_in_flight,
                                     target_seconds=settings.integration_latency_target_seconds,
                                     replicas=settings.replicas)

    async def wire(rt: ServiceRuntime) -> None:
        app.state.views = ticket_views = views.MongoViews(rt.db, fresh_seconds=settings.view_cache_seconds)
        store = tickets.MongoTickets(rt.db, on_outbox=rt.relay.hint, views=ticket_views)
        app.state.tickets = store
        rt.relay.unsettled[tickets.COLLECTION] = store.reproject  # a write came between a ticket's and its views
        rt.background(lambda: recover_in_background(store))  # ready at once; the scan may take minutes
        if settings.replicas == 1:  # with replicas, each other's writes would make deferred clears rewrite views
            rt.background(store.deferred_clears.run)
        app.state.api_keys = api_keys.MongoApiKeys(rt.db, clock)
        app.state.votes = votes.MongoVotes(rt.db)
        app.state.idempotency = idempotency.MongoIdempotency(rt.db)
        rt.background(lambda: poll_forever("idempotency expiry", lambda: app.state.idempotency.expire(clock.now()),
                                           asyncio.Event(), 60.0))
        app.state.attachments = attachments.MongoAttachments(rt.db)
        wire_portal(app, rt, clock)
        wire_integrations(app, rt, store, clock)
        freeze_startup_objects()
        if settings.smtp_intake_enabled:
            intake = MailIntake(tickets=store, api_keys=app.state.api_keys, attachments=app.state.attachments,
                                receipts=MongoMailReceipts(rt.db), clock=clock, ticket_prefix=settings.ticket_prefix,
                                unknown_senders=settings.unknown_senders, attachment_types=settings.attachment_types,
                                max_attachment_bytes=settings.max_attachment_bytes)
            mailbox = SupportMailbox(settings=settings, intake=intake, dkim=DkimVerifier(dkim_keys))
            server = await start_smtp(mailbox, settings.smtp_intake_host, settings.smtp_intake_port,
                                      max_message_bytes=settings.mail_max_message_bytes,
                                      max_sessions_per_ip=settings.mail_max_sessions_per_ip,
                                      reuse_port=settings.reuse_port)
            rt.background(lambda: close_on_cancel(server))
        event_handlers = handlers(store, clock, observe_outcome)
        # a hand-off notice is its own document, inserted once per announcing event
        event_handlers["oncall.shift_started"] = partial(
            prepare_notice, views=ticket_views, notices=handoff_notices.MongoHandoffNotices(rt.db), clock=clock,
            calendar=levels.sla.calendar, at_risk=levels.sla.at_risk_fraction, on_outbox=rt.relay.hint)
        # the ticket is the inbox: it remembers the events it applied, in the same write; events of one
        # ticket that queued up together (a triage and its two clocks) are written together
        combiner = TicketEventCombiner(store, lambda recorder: handlers(recorder, clock, observe_outcome))
        rt.consume(CONSUMER_QUEUES["intake"], event_handlers, inbox=False, combiner=combiner)

    runtime.on_startup(wire)
    for api in (tickets_api, actions_api, features_api, attachments_api, reports_api, identity_api, admin_api,
                ack_page, integrations_api, slack_api):
        app.include_router(api.router)
    install_portal(app, settings)
    app.add_middleware(AuthenticateFirst, state=app.state, failures=app.state.auth_failures)
    return app


def install_portal(app: FastAPI, settings: IntakeSettings) -> None:
    """Add the web portal: its pages, its static files (htmx, CSS, the Help button) and its error pages."""
    app.state.portal = Portal(settings)
    app.state.sign_in_rules = SignInRules(
        portal_url=settings.portal_url, link_lifetime=timedelta(minutes=settings.sign_in_link_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
        per_address_per_hour=settings.sign_in_per_address_per_hour, per_ip_per_hour=settings.sign_in_per_ip_per_hour,
        create_unknown=settings.unknown_senders == "create", host_secret=settings.widget_secret,
        host_token_max_age=timedelta(seconds=settings.widget_token_max_age_seconds))
    app.state.background_sends = portal_auth.BackgroundSends()
    app.mount("/static", StaticFiles(directory=STATIC), name="portal-static")
    for pages in (portal_auth, portal_tickets, portal_report, portal_widget, console_queue, console_ticket, console_sla,
                  console_features, console_admin):
        app.include_router(pages.router)
    portal_auth.install_handlers(app)


def wire_portal(app: FastAPI, rt: ServiceRuntime, clock: Clock) -> None:
    """Connect the portal's stores and mailer, and expire old sessions and sign-in records in the background."""
    app.state.web_sessions = web_sessions.MongoWebSessions(rt.db)
    app.state.sign_in_tokens = sign_in_tokens.MongoSignInTokens(rt.db)
    app.state.mailer = mailer.SmtpMailer(app.state.settings)
    wire_console(app, rt, clock)
    rt.background(lambda: poll_forever("web session expiry", lambda: app.state.web_sessions.expire(clock.now()),
                                       asyncio.Event(), 60.0))
    rt.background(lambda: poll_forever("sign-in link expiry", lambda: app.state.sign_in_tokens.expire(clock.now()),
                                       asyncio.Event(), 60.0))


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, models, the wiring) out of later garbage collections; they live on anyway.

    The console's open-work buckets are read again every VIEW_CACHE_SECONDS under traffic: thousands of
    objects that live about a second, outlast the young collections and so set off frequent full
    collections, each of which walked the ~150,000 start-up objects too (up to 300 ms per collection on
    the busy 2-core machine, measured under bench.console; with them frozen the longest was 61 ms).
    """
    gc.collect()
    gc.freeze()


async def recover_in_background(store: tickets.MongoTickets) -> None:
    """Bring read models of an older build up to date, then finish what a crash left (views to write, events
    to publish), while the service already answers.

    On the docstore the scan reads every ticket (minutes at 100,000), so it must not hold up readiness;
    what it finishes was already late, and every write it makes is guarded like a live one.
    """
    await migrate_views(store)
    recovered = await store.recover()
    if recovered:
        logging.getLogger(__name__).warning("recovered tickets a crash left half-done", extra={"x_tickets": recovered})


def wire_integrations(app: FastAPI, rt: ServiceRuntime, store: tickets.MongoTickets, clock: Clock) -> None:
    """Connect the inbound integrations (Alertmanager, Events API v2, Slack) to their stores and Slack's Web API.

    Ticket notes an alert group defers run after the answer, one at a time, so they never compete with
    answers for the database; each is kept referenced until done and a failure is logged.
    """
    settings = app.state.settings
    source_locks = KeyedLocks()
    pending: set[asyncio.Task] = set()
    one_at_a_time = asyncio.Semaphore(1)

    async def in_turn(work) -> None:
        async with one_at_a_time:
            await work()

    def after_answer(work) -> None:
        task = asyncio.create_task(in_turn(work))
        pending.add(task)
        task.add_done_callback(pending.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or logging.getLogger(__name__).error(
            "deferred work failed", exc_info=t.exception()))

    app.state.integrations = integrations.MongoIntegrations(rt.db)
    app.state.alerts_in = AlertsIn(source_records.MongoSourceRecords(rt.db, source_records.ALERT_GROUPS), store,
                                   clock, settings.ticket_prefix, source_locks, defer=after_answer)
    app.state.chat_in = ChatIn(source_records.MongoSourceRecords(rt.db, source_records.SLACK_REQUESTS), store,
                               clock, settings.ticket_prefix, source_locks)
    app.state.slack_web = slack_web = SlackWebApi(settings.slack_api_url)
    rt.background(lambda: close_on_cancel_client(slack_web))


async def close_on_cancel_client(client: SlackWebApi) -> None:
    """Keep the Slack client open for the life of the service, then close it."""
    try:
        await asyncio.Event().wait()
    finally:
        await client.close()


def wire_console(app: FastAPI, rt: ServiceRuntime, clock: Clock) -> None:
    """Connect the console to the staff list and to the other services' staff APIs (with intake's own key)."""
    settings: IntakeSettings = app.state.settings
    app.state.staff_directory = StaffDirectory(app.state.api_keys)
    app.state.open_queue = OpenQueue(app.state.views, app.state.sla.calendar, app.state.sla.at_risk_fraction)
    client = httpx.AsyncClient(timeout=settings.service_call_timeout_seconds, follow_redirects=False)
    key = service_calls.ServiceKey(app.state.api_keys, clock, timedelta(hours=settings.service_key_hours))
    app.state.service_calls = service_calls.ServiceCalls(client, settings.service_urls, key)
    rt.background(lambda: close_on_cancel(client))
