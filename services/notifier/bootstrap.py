"""Builds the notifier service: the only place its objects are wired together."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from services.notifier.adapters import deliveries
from services.notifier.adapters.channels import ChannelSender
from services.notifier.adapters.email import SmtpEmailSender
from services.notifier.adapters.http_channels import SlackSender, WebhookSender
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.rate_slots import MongoRateSlots
from services.notifier.adapters.routing_file import DEFAULT_ROUTING_FILE, load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.messages import REGISTRY
from services.notifier.domain.retry import RetryPolicy
from services.notifier.domain.routing import Channel, Router
from services.notifier.entrypoints.http import HttpDeps, install_routes
from services.notifier.entrypoints.worker import DeliveryLoop
from services.notifier.service_layer.dispatch import Dispatcher
from services.notifier.service_layer.handlers import notify
from services.notifier.settings import NotifierSettings
from shared.ack_links import AckLinks
from shared.clock import Clock, SystemClock
from shared.config_files import ConfigFileError, LoadedFile
from shared.config_view import install_config_route
from shared.http import create_service_app
from shared.identities import IntakeIdentities
from shared.messaging.topology import CONSUMER_QUEUES
from shared.runtime import ServiceRuntime
from shared.settings import load_settings


def build_router(settings: NotifierSettings, renderer: TemplateRenderer, environ: Mapping[str, str],
                 loaded: list[LoadedFile] | None = None) -> Router:
    """Return the validated router, every configured webhook endpoint with a signing key; raises ConfigFileError.

    The routing file's text is appended to `loaded` when given.
    """
    path = settings.notifier_routing_file or DEFAULT_ROUTING_FILE
    production = settings.environment == "production"
    router = load_router(path, environ, renderer.exists, production=production,
                         fallback_secret=None if production else settings.webhook_signing_secret or None,
                         loaded=loaded)
    unsigned = router.unsigned_webhook_endpoints()
    if unsigned:
        raise ConfigFileError(f"{path}: generic webhook endpoints without a signing secret: {', '.join(unsigned)} "
                              "(give each its own with secret_env or secret_file; outside production "
                              "WEBHOOK_SIGNING_SECRET may stand in for them)")
    return router


def retry_policy(settings: NotifierSettings) -> RetryPolicy:
    """Return the retry policy the settings describe."""
    return RetryPolicy(base_seconds=settings.retry_base_seconds, max_seconds=settings.retry_max_seconds,
                       max_attempts=settings.delivery_max_attempts, jitter=settings.retry_jitter,
                       max_interrupted=settings.delivery_max_interrupted_steps)


def build_app(settings: NotifierSettings | None = None, clock: Clock | None = None,
              senders: dict[str, ChannelSender] | None = None) -> FastAPI:
    """Return the notifier app: routes events to deliveries and runs the delivery loop."""
    settings = settings or load_settings(NotifierSettings)
    clock = clock or SystemClock()
    renderer = TemplateRenderer(portal_url=settings.portal_url)
    loaded: list[LoadedFile] = []
    router = build_router(settings, renderer, os.environ, loaded)
    runtime = ServiceRuntime("notifier", settings)
    metrics = NotifierMetrics.register(runtime.registry)
    runtime.indexes += deliveries.INDEXES
    runtime.outbox_collections.append(deliveries.COLLECTION)
    http_client = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    email_sender = SmtpEmailSender(settings)
    if senders is None:
        senders = {
            Channel.EMAIL.value: email_sender,
            Channel.WEBHOOK.value: WebhookSender(http_client, router.signing_key, clock),
            Channel.SLACK.value: SlackSender(http_client, clock),
        }
    http_deps = HttpDeps(keys=IntakeIdentities(http_client, settings.intake_url))

    async def wire(rt: ServiceRuntime) -> None:
        store = deliveries.MongoDeliveries(rt.db)
        dispatcher = Dispatcher(
            deliveries=store, slots=MongoRateSlots(rt.db), senders=senders, router=router,
            renderer=renderer, policy=retry_policy(settings), clock=clock, metrics=metrics,
            lease=timedelta(seconds=settings.delivery_lease_seconds), rng=random.Random(),
            on_outbox=partial(rt.relay.hint, deliveries.COLLECTION) if rt.relay else (lambda delivery_id: None),
        )
        loop = DeliveryLoop(dispatcher, store, clock, poll_seconds=settings.delivery_poll_seconds,
                            concurrency=settings.delivery_concurrency)
        http_deps.deliveries = store
        ack_links = AckLinks(settings.ack_link_base_url, settings.ack_link_secret,
                             timedelta(hours=settings.ack_link_ttl_hours))
        handlers = {
            event_type: partial(notify, entry=entry, router=router, renderer=renderer, deliveries=store,
                                clock=clock, worker=loop, ack_links=ack_links)
            for event_type, entry in REGISTRY.items()
        }
        # a delivery's id is (event, channel, recipient): creating it again changes nothing
        rt.consume(CONSUMER_QUEUES["notifier"], handlers, inbox=False)

        async def run_loop() -> None:
            try:
                await loop.run()
            finally:
                await http_client.aclose()
                await email_sender.connections.close()

        rt.background(run_loop)

    runtime.on_startup(wire)
    app = create_service_app(runtime, title="Incidents notifier", description="E-mail, webhook and chat delivery")
    install_routes(app, http_deps)
    install_config_route(app, "notifier", loaded, clock.now(), http_deps.keys)
    return app
