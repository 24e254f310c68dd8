"""How many database commands one ticket's trip costs, from POST to the acknowledgement e-mail.

The four services run in this process on the real database through their real adapters,
consumers and outbox relays; only the broker is replaced by an in-process bus that routes each
published event to the consumers bound to it (as the topology does), and the mail server by a
fake sender. PyMongo's command monitoring counts every command the services send. The count is
deterministic for this flow, so it is asserted; the budget is the store issue's goal.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import partial

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, monitoring

from services.escalation.adapters.clocks import MongoClocks
from services.escalation.service_layer.clock_updates import ClockUpdater
from services.escalation.service_layer.handlers import handlers as escalation_handlers
from services.intake.adapters.api_keys import MongoApiKeys
from services.intake.adapters.sla_metrics import SlaObserver
from services.intake.adapters.tickets import VIEWS_PENDING, MongoTickets
from services.intake.domain.principals import Role
from services.intake.service_layer.commands import report_ticket
from services.intake.service_layer.event_handlers import handlers as intake_handlers
from services.notifier.adapters.deliveries import MongoDeliveries
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.rate_slots import MongoRateSlots
from services.notifier.adapters.routing_file import DEFAULT_ROUTING_FILE, load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.messages import REGISTRY
from services.notifier.domain.retry import RetryPolicy
from services.notifier.entrypoints.worker import DeliveryLoop
from services.notifier.service_layer.dispatch import Dispatcher
from services.notifier.service_layer.handlers import notify
from services.triage.adapters.fingerprints import MongoFingerprintGroups
from services.triage.adapters.triage_records import MongoTriageRecords
from services.triage.service_layer.handlers import triage_reported_ticket
from shared.clock import SystemClock
from shared.contracts import Envelope, parse_message
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import OutboxRelay
from shared.messaging.topology import CONSUMER_QUEUES
from shared.metrics import pipeline_metrics
from shared.persistence import ensure_indexes
from shared.sla_metrics import SlaMetrics
from tests.factories import escalation_policy, triage_policy
from tests.fakes_notifier import FakeChannel

pytestmark = pytest.mark.integration
BUDGET = 25
HOUSEKEEPING = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"}


class Commands(monitoring.CommandListener):
    """Counts the commands sent, by name, while counting is on."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.sequence: list[str] = []
        self.on = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on and event.command_name not in HOUSEKEEPING:
            target = event.command.get(event.command_name)
            self.counts[f"{event.command_name} {target}"] += 1
            self.sequence.append(f"{event.command_name} {target}")

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


class Bus:
    """Routes each published event to the consumers whose queue binds its type, one at a time, in order."""

    def __init__(self) -> None:
        self.queue: list[Envelope] = []
        self.consumers: dict[str, Consumer] = {}

    async def publish(self, envelope: Envelope) -> None:
        self.queue.append(envelope)

    async def deliver_all(self) -> bool:
        delivered = False
        while self.queue:
            envelope, payload = parse_message(self.queue.pop(0).to_bytes())
            for name, consumer in self.consumers.items():
                if envelope.event_type in CONSUMER_QUEUES[name].routing_keys:
                    await consumer.handle(envelope, payload)
                    delivered = True
        return delivered


async def test_one_ticket_from_post_to_acknowledgement_email_costs_at_most_the_budget(mongodb_url, db_name):
    listener = Commands()
    client = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[listener])
    db = client[db_name]
    try:
        acknowledged, settled = await trip(db, listener)
    finally:
        await client.drop_database(db_name)
        await client.close()
    total = sum(acknowledged.values())
    print(f"\none ticket, POST to acknowledgement e-mail: {total} commands: {dict(acknowledged)}")
    print(f"until every service has settled it (clock events recorded, events relayed): "
          f"{sum(settled.values())} commands: {dict(settled)}")
    print("\n".join(listener.sequence))
    assert total <= BUDGET, f"{total} commands: {dict(acknowledged)}"


async def trip(db, listener: Commands) -> tuple[Counter, Counter]:
    """Run a warm-up ticket, then one ticket through the four services; return the commands it cost up to the
    acknowledgement e-mail and up to the point where nothing is left to relay or deliver.

    The warm-up is what a running system has already done once per process (the schedules' floors,
    the first view documents of the day); the delivery loop's periodic poll is not run, as it reads
    the same two documents a second whether tickets come or not (the idle benchmark measures it).
    """
    clock = SystemClock()
    bus = Bus()
    registry = CollectorRegistry()
    metrics = pipeline_metrics(registry)
    relays: list[OutboxRelay] = []

    def service(name: str, relay: OutboxRelay, handlers: dict) -> None:
        # as bootstrap wires them: no consumer inbox, every service's documents remember what they applied
        bus.consumers[name] = Consumer(name=name, spec=CONSUMER_QUEUES[name], handlers=handlers, inbox=None,
                                       relay=relay, metrics=metrics, delivery_limit=5)

    def relay_of(collection: str) -> OutboxRelay:
        relay = OutboxRelay([db[collection]], bus, metrics, settled_marks={"tickets": VIEWS_PENDING})
        relays.append(relay)
        return relay

    tickets_relay = relay_of("tickets")
    tickets = MongoTickets(db, on_outbox=tickets_relay.hint)
    service("intake", tickets_relay, intake_handlers(tickets, clock, SlaObserver(SlaMetrics.register(registry))))
    policy = triage_policy()
    triage_relay = relay_of("triage_records")
    records = MongoTriageRecords(db, on_outbox=triage_relay.hint)
    groups = MongoFingerprintGroups(db)
    service("triage", triage_relay, {
        "ticket.reported": partial(triage_reported_ticket, policy=policy, records=records, groups=groups, clock=clock),
        "ticket.severity_changed": lambda *a: []})
    clocks_relay = relay_of("sla_clocks")
    clocks = MongoClocks(db)
    updater = ClockUpdater(clocks, escalation_policy(), clock,
                           on_outbox=lambda ticket_id, vendor, document: clocks_relay.hint("sla_clocks", ticket_id,
                                                                                           document))
    service("escalation", clocks_relay, escalation_handlers(updater))
    email = FakeChannel()
    renderer = TemplateRenderer()
    router = load_router(DEFAULT_ROUTING_FILE, {}, renderer.exists)
    deliveries = MongoDeliveries(db)
    deliveries_relay = relay_of("deliveries")
    dispatcher = Dispatcher(deliveries=deliveries, slots=MongoRateSlots(db),
                            senders={"email": email, "webhook": FakeChannel(), "slack": FakeChannel()},
                            router=router, renderer=renderer, policy=RetryPolicy(), clock=clock,
                            metrics=NotifierMetrics.register(registry), lease=timedelta(seconds=60),
                            rng=random.Random(1), on_outbox=partial(deliveries_relay.hint, "deliveries"))
    loop = DeliveryLoop(dispatcher, deliveries, clock, poll_seconds=1, concurrency=4)
    service("notifier", deliveries_relay, {event_type: partial(notify, entry=entry, router=router, renderer=renderer,
                                                 deliveries=deliveries, clock=clock, worker=loop)
                             for event_type, entry in REGISTRY.items()})
    api_keys = MongoApiKeys(db)
    key, reporter = await api_keys.create(Role.REPORTER, "Ada", "ada@example.com", clock.now())
    await ensure_indexes(db, [])
    await loop.run_once()  # the one-time backfill of the schedule happens at start, not in the trip

    async def one_ticket(title: str) -> tuple[Counter, Counter]:
        caller = await api_keys.authenticate(key)
        await report_ticket({"title": title, "type": "performance", "description": "Pages take 20 s.",
                             "severity": "medium"}, caller.as_reporter(), tickets=tickets, clock=clock, prefix="INC")
        acknowledged = None
        for _ in range(50):
            for relay in relays:
                await relay.flush_hinted()
            moved = await bus.deliver_all()
            await loop.drain()
            if acknowledged is None and any(
                    "We received your report" in o.content.subject and title in o.content.subject for o in email.sent):
                acknowledged = Counter(listener.counts)
            if not moved and not any(relay._hints for relay in relays):
                break
        assert acknowledged is not None, f"no acknowledgement e-mail for {title!r}"
        return acknowledged, Counter(listener.counts)

    await one_ticket("Search is slow")
    listener.on = True
    counted = await one_ticket("Checkout is slow")
    listener.on = False
    return counted
