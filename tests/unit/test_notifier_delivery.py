"""The notifier's handler, dispatcher and loop with fakes and a fake clock: once, retried, limited, digested."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.notifier.adapters.email import compose
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.routing_file import load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.deliveries import (
    Content,
    Outgoing,
    digest_id_for,
    idempotency_key,
    new_digest,
)
from services.notifier.domain.messages import REGISTRY
from services.notifier.domain.retry import RetryPolicy, permanent, transient
from services.notifier.entrypoints.http import HttpDeps, install_routes
from services.notifier.entrypoints.worker import DeliveryLoop
from services.notifier.service_layer.dispatch import Dispatcher
from services.notifier.service_layer.handlers import notify
from shared.clock import FakeClock
from shared.contracts import NotificationFailed, Reporter, Severity
from shared.messaging.consumer import PermanentError
from shared.problems import install_problem_handlers
from tests.factories import REPORTED_AT, envelope_for, triaged
from tests.fakes import FakeKeyRoles
from tests.fakes_notifier import FakeChannel, FakeDeliveries, FakeRateSlots

ROUTING = {
    "version": 1,
    "endpoints": {"pager": {"url": "http://127.0.0.1:9/page"}},
    "contacts": {"oncall": {"name": "On-call", "webhook": "pager"}},
    "teams": {"service-desk": {"on_call": ["oncall"]}},
    "routes": [{"message": "ticket_received", "to": "reporter", "channels": ["email"]},
               {"message": "ticket_assigned", "to": "on_call", "channels": ["webhook"]}],
    "rate_limits": {"webhook": {"interval_seconds": 60}},
}


class Harness:
    """The notifier's moving parts on fakes."""

    def __init__(self, tmp_path: Path, *, email=None, webhook=None, max_attempts: int = 4, deliveries=None,
                 max_interrupted: int = 5) -> None:
        path = tmp_path / "routing.yaml"
        path.write_text(yaml.safe_dump(ROUTING))
        self.renderer = TemplateRenderer()
        self.router = load_router(path, {}, self.renderer.exists)
        self.clock = FakeClock(REPORTED_AT)
        self.deliveries = deliveries or FakeDeliveries()
        self.email = email or FakeChannel()
        self.webhook = webhook or FakeChannel()
        self.registry = CollectorRegistry()
        self.dispatcher = Dispatcher(
            deliveries=self.deliveries, slots=FakeRateSlots(), senders={"email": self.email, "webhook": self.webhook},
            router=self.router, renderer=self.renderer,
            policy=RetryPolicy(base_seconds=2, max_seconds=60, max_attempts=max_attempts,
                               max_interrupted=max_interrupted),
            clock=self.clock, metrics=NotifierMetrics.register(self.registry), lease=timedelta(seconds=30),
            rng=random.Random(3),
        )
        self.loop = DeliveryLoop(self.dispatcher, self.deliveries, self.clock, poll_seconds=1, concurrency=4)
        self.started = 0
        self.dies_before_sending = False

    def leased(self, document: dict) -> dict:
        return self.loop.leased(document)

    def start(self, document: dict) -> None:
        if self.dies_before_sending:
            return  # the process died between storing the leased delivery and sending it
        self.started += 1
        self.loop.start(document)

    async def handle(self, event, envelope=None):
        envelope = envelope or envelope_for(event)
        return await notify(envelope, event, entry=REGISTRY["ticket.triaged"], router=self.router,
                            renderer=self.renderer, deliveries=self.deliveries, clock=self.clock, worker=self)

    async def run(self) -> int:
        """Finish the deliveries handed over, then run loop passes at the current fake time until nothing more is
        due; return how many steps started."""
        await self.loop.drain()
        total, self.started = self.started, 0
        while started := await self.loop.run_once():
            await self.loop.drain()
            total += started
        return total

    def only(self, channel: str) -> dict:
        [record] = [r for r in self.deliveries.records.values() if r["channel"] == channel]
        return record

    def metric(self, name: str, **labels) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def test_each_recipient_and_channel_gets_one_delivery_even_when_the_event_arrives_twice(tmp_path):
    h = Harness(tmp_path)
    event = triaged()
    envelope = envelope_for(event)
    assert await h.handle(event, envelope) == []
    await h.handle(event, envelope)
    assert len(h.deliveries.records) == 2 and h.started == 2
    assert await h.run() == 2
    assert await h.run() == 0
    [mail] = h.email.sent
    [page] = h.webhook.sent
    assert mail.address == "ada@example.com" and mail.content.subject.startswith("[INC-000001]")
    assert "1 hour" in mail.content.text and mail.content.html and "<strong>INC-000001</strong>" in mail.content.html
    assert page.address == "http://127.0.0.1:9/page" and "PAGE INC-000001" in page.content.text
    record = h.only("email")
    assert record["state"] == "delivered" and record["attempts"][0]["outcome"] == "delivered"
    [delivered] = [e for e in h.deliveries.events() if e["payload"]["channel"] == "email"]
    assert delivered["event_type"] == "notification.delivered" and delivered["ticket_id"] == event.ticket_id
    assert h.metric("incidents_notifications_total", channel="email", outcome="delivered") == 1
    assert h.metric("incidents_notification_delivery_seconds_count", channel="email") == 1


async def test_transient_failures_are_retried_later_as_data_then_delivered(tmp_path):
    h = Harness(tmp_path, email=FakeChannel(transient("HTTP 500"), transient("timeout")))
    await h.handle(triaged())
    await h.run()
    record = h.only("email")
    assert record["state"] == "pending" and len(record["attempts"]) == 1
    wait = record["next_attempt_at"] - h.clock.now()
    assert timedelta(seconds=1) <= wait <= timedelta(seconds=2)
    assert await h.run() == 0, "nothing is due before next_attempt_at"
    h.clock.advance(wait)
    await h.run()
    record = h.only("email")
    assert record["state"] == "pending" and len(record["attempts"]) == 2
    h.clock.advance(timedelta(seconds=4))
    await h.run()
    record = h.only("email")
    assert record["state"] == "delivered" and [a["outcome"] for a in record["attempts"]] == [
        "transient", "transient", "delivered"]
    assert len({m.idempotency_key for m in h.email.sent}) == 1, "every re-send carries the same key"
    assert h.metric("incidents_notification_attempts_total", channel="email", outcome="transient") == 2


async def test_permanent_errors_fail_at_once_and_publish_notification_failed(tmp_path):
    h = Harness(tmp_path, email=FakeChannel(permanent("SMTP 550: no such user", status=550)))
    event = triaged()
    await h.handle(event)
    await h.run()
    record = h.only("email")
    assert record["state"] == "failed" and len(record["attempts"]) == 1
    [failed] = h.deliveries.events("notification.failed")
    payload = NotificationFailed.model_validate(failed["payload"])
    assert payload.attempts == 1 and "550" in payload.error and payload.role == "reporter"
    assert failed["ticket_id"] == event.ticket_id


async def test_retries_stop_after_max_attempts(tmp_path):
    h = Harness(tmp_path, email=FakeChannel(*[transient("connection refused")] * 10), max_attempts=3)
    await h.handle(triaged())
    for _ in range(5):
        await h.run()
        h.clock.advance(timedelta(minutes=5))
    record = h.only("email")
    assert record["state"] == "failed" and len(record["attempts"]) == 3
    assert h.deliveries.events("notification.failed")[0]["payload"]["attempts"] == 3


async def test_a_429_retry_after_is_honoured(tmp_path):
    h = Harness(tmp_path, webhook=FakeChannel(transient("HTTP 429", status=429, retry_after_seconds=40)))
    await h.handle(triaged())
    await h.run()
    assert h.only("webhook")["next_attempt_at"] == h.clock.now() + timedelta(seconds=40)


async def test_a_live_lease_blocks_a_second_claim_and_an_expired_one_allows_the_resend(tmp_path):
    h = Harness(tmp_path)
    h.dies_before_sending = True
    await h.handle(triaged())
    delivery_id = h.only("email")["_id"]
    now = h.clock.now()
    assert await h.deliveries.claim(delivery_id, now, now + timedelta(seconds=30), "another-worker") is None
    await h.run()
    assert h.email.sent == [], "leased by a worker that may still be sending"
    h.clock.advance(timedelta(seconds=31))
    await h.run()
    assert len(h.email.sent) == 1 and h.only("email")["state"] == "delivered"
    assert h.email.sent[0].idempotency_key == idempotency_key(delivery_id)


async def test_pages_over_the_rate_limit_are_held_and_sent_as_one_digest(tmp_path):
    h = Harness(tmp_path)
    events = [triaged(number=f"INC-00000{i}", title=f"Outage {i}") for i in range(1, 5)]
    for event in events:
        await h.handle(event)
    await h.run()
    assert len(h.webhook.sent) == 1, "one page per minute per contact"
    pages = [r for r in h.deliveries.records.values() if r["channel"] == "webhook" and r["kind"] == "message"]
    assert sorted(r["state"] for r in pages) == ["delivered", "held", "held", "held"]
    assert h.metric("incidents_notifications_total", channel="webhook", outcome="held") == 3
    h.clock.advance(timedelta(seconds=30))
    assert await h.run() == 0
    h.clock.advance(timedelta(seconds=30))
    await h.run()
    assert len(h.webhook.sent) == 2
    digest = h.webhook.sent[1]
    assert digest.message == "digest" and len(digest.items) == 3
    assert {i["number"] for i in digest.items} == {"INC-000002", "INC-000003", "INC-000004"}
    assert "3 notifications" in digest.content.text
    assert digest.webhook_body()["items"] == digest.items
    pages = [r for r in h.deliveries.records.values() if r["channel"] == "webhook" and r["kind"] == "message"]
    assert sorted(r["state"] for r in pages) == ["delivered", "digested", "digested", "digested"]
    delivered_ids = {e["payload"]["delivery_id"] for e in h.deliveries.events("notification.delivered")}
    assert {r["_id"] for r in pages} <= delivered_ids, "each page is reported delivered, the held ones via the digest"
    assert len(h.email.sent) == 4, "e-mail is not rate limited here"
    h.clock.advance(timedelta(minutes=5))
    assert await h.run() == 0


async def test_a_digest_interrupted_while_assembling_is_finished_by_the_next_worker(tmp_path):
    h = Harness(tmp_path)
    for i in range(1, 4):
        await h.handle(triaged(number=f"INC-00000{i}"))
    await h.run()
    h.clock.advance(timedelta(seconds=61))
    held = sorted((r for r in h.deliveries.records.values() if r["state"] == "held"), key=lambda r: r["_id"])
    now = h.clock.now()
    # a worker claims the first held page, creates the digest and dies before collecting anything
    await h.deliveries.claim(held[0]["_id"], now, now + timedelta(seconds=30), "dead")
    await h.dispatcher.slots.acquire(f"webhook:{held[0]['recipient']}", digest_id_for(held[0]["_id"]), now,
                                     timedelta(seconds=60))
    await h.deliveries.create(new_digest(held[0], now, now + timedelta(seconds=30), "dead"))
    await h.run()
    assert len(h.webhook.sent) == 1, "the other held page waits for the slot the dead worker took"
    h.clock.advance(timedelta(seconds=31))
    await h.run()
    await h.run()
    assert len(h.webhook.sent) == 2 and len(h.webhook.sent[1].items) == 2
    assert all(r["state"] in ("delivered", "digested") for r in h.deliveries.records.values())


async def test_templates_that_cannot_render_are_dead_lettered(tmp_path):
    h = Harness(tmp_path)
    h.renderer.content = lambda *a, **k: (_ for _ in ()).throw(LookupError("no template"))
    with pytest.raises(PermanentError, match="cannot render"):
        await h.handle(triaged())


async def test_reporters_without_an_address_get_only_the_team_page(tmp_path):
    h = Harness(tmp_path)
    await h.handle(triaged(reporter=Reporter(id="r1", name="Ada")))
    assert [r["channel"] for r in h.deliveries.records.values()] == ["webhook"]


def test_email_threads_on_the_ticket_with_a_stable_message_id():
    outgoing = Outgoing(delivery_id="E1:email:ada@example.com", channel="email", address="ada@example.com",
                        content=Content(subject="[INC-000001] Hi", text="plain", html="<p>html</p>"),
                        message="ticket_received", ticket_id="T1", number="INC-000001")
    first = compose(outgoing, sender="Support <support@platform.local>", domain="platform.local")
    again = compose(outgoing, sender="Support <support@platform.local>", domain="platform.local")
    assert first["Message-ID"] == again["Message-ID"] and first["Message-ID"].endswith("@platform.local>")
    assert first["In-Reply-To"] == first["References"] == "<ticket.T1@platform.local>"
    assert first["X-Ticket-Number"] == "INC-000001" and first["Idempotency-Key"] == outgoing.idempotency_key
    assert first.get_body(("plain",)).get_content().strip() == "plain"
    assert first.get_body(("html",)).get_content().strip() == "<p>html</p>"


async def test_deliveries_endpoint_is_for_agents_and_admins(tmp_path):
    h = Harness(tmp_path, email=FakeChannel(transient("HTTP 500")))
    event = triaged(severity=Severity.CRITICAL)
    await h.handle(event)
    await h.run()
    app = FastAPI()
    install_problem_handlers(app)
    install_routes(app, HttpDeps(deliveries=h.deliveries, keys=FakeKeyRoles({"ka": "agent", "kr": "reporter"})))
    client = TestClient(app)
    assert client.get("/v1/deliveries", params={"ticket_id": event.ticket_id}).status_code == 401
    assert client.get("/v1/deliveries", params={"ticket_id": event.ticket_id},
                      headers={"Authorization": "Bearer nope"}).status_code == 401
    forbidden = client.get("/v1/deliveries", params={"ticket_id": event.ticket_id}, headers={"Authorization": "Bearer kr"})
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    response = client.get("/v1/deliveries", params={"ticket_id": event.ticket_id}, headers={"Authorization": "Bearer ka"})
    assert response.status_code == 200
    by_channel = {d["channel"]: d for d in response.json()["deliveries"]}
    assert by_channel["email"]["state"] == "pending" and by_channel["email"]["attempts"][0]["error"] == "HTTP 500"
    assert by_channel["webhook"]["attempts"][0]["target"] == "http://127.0.0.1:9", "URL paths are never shown"
    assert by_channel["webhook"]["target"] == "pager"
