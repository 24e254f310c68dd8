"""Failures outside the classified send paths, with fakes and a fake clock: an exception in a step is a
counted attempt that ends in notification.failed; a step that stores nothing (a crash, a failing store)
is retried when its lease runs out, a bounded number of times."""

from __future__ import annotations

from datetime import timedelta

from jinja2 import TemplateError

from services.notifier.domain.deliveries import Outgoing
from services.notifier.domain.retry import SendResult
from tests.factories import triaged
from tests.fakes_notifier import FakeChannel, FakeDeliveries
from tests.unit.test_notifier_delivery import Harness


class RaisingChannel(FakeChannel):
    """A sender with a bug: it raises instead of returning a classified result."""

    async def send(self, outgoing: Outgoing) -> SendResult:
        self.sent.append(outgoing)
        raise RuntimeError("sender bug: 'NoneType' object is not subscriptable")


class UnwritableAttempts(FakeDeliveries):
    """A store that refuses every write of an attempt record (as a database refusing the update would)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def settle(self, delivery_id, owner, fields, *, attempt=None, outbox=None) -> bool:
        if attempt is not None:
            self.refused += 1
            raise RuntimeError("write refused")
        return await super().settle(delivery_id, owner, fields, attempt=attempt, outbox=outbox)


async def run_for(h: Harness, minutes: int) -> None:
    """Run loop passes a minute of fake time apart (each past any lease and backoff of the harness)."""
    for _ in range(minutes):
        await h.run()
        h.clock.advance(timedelta(minutes=1))


async def test_a_sender_that_raises_counts_as_an_attempt_and_ends_as_notification_failed(tmp_path):
    h = Harness(tmp_path, email=RaisingChannel(), max_attempts=3)
    event = triaged()
    await h.handle(event)
    await run_for(h, 20)
    record = h.only("email")
    assert record["state"] == "failed", "an exception in the send is not retried every lease forever"
    assert [a["outcome"] for a in record["attempts"]] == ["transient"] * 3
    assert all("unexpected RuntimeError: sender bug" in a["error"] for a in record["attempts"])
    assert len(h.email.sent) == 3, "one send per counted attempt, none beyond the policy's maximum"
    [failed] = [e for e in h.deliveries.events("notification.failed") if e["payload"]["channel"] == "email"]
    assert failed["payload"]["attempts"] == 3 and "RuntimeError" in failed["payload"]["error"]
    assert failed["ticket_id"] == event.ticket_id
    assert h.metric("incidents_notification_attempts_total", channel="email", outcome="transient") == 3
    assert h.only("webhook")["state"] == "delivered", "the other channel is not affected"


async def test_a_template_error_at_send_time_is_a_counted_attempt_of_the_digest(tmp_path):
    h = Harness(tmp_path, max_attempts=2)
    for i in range(1, 4):
        await h.handle(triaged(number=f"INC-00000{i}"))
    await h.run()
    assert len(h.webhook.sent) == 1, "the other two pages are held for a digest"
    render = h.renderer.content

    def broken_digest(message, channel, context, number):
        if message == "digest":
            raise TemplateError("'items' is undefined")
        return render(message, channel, context, number)

    h.renderer.content = broken_digest
    await run_for(h, 20)
    [digest] = [r for r in h.deliveries.records.values() if r["kind"] == "digest"]
    assert digest["state"] == "failed" and len(digest["attempts"]) == 2
    assert "unexpected TemplateError" in digest["attempts"][0]["error"]
    failed = h.deliveries.events("notification.failed")
    assert len(failed) == 2 and all(e["payload"]["via_digest"] for e in failed), "one per held page"
    assert len(h.webhook.sent) == 1


async def test_an_exception_while_assembling_a_digest_is_a_counted_attempt_of_the_digest(tmp_path):
    h = Harness(tmp_path)
    for i in range(1, 3):
        await h.handle(triaged(number=f"INC-00000{i}"))
    await h.run()
    held_for = h.deliveries.held_for

    async def broken(channel, recipient):
        raise RuntimeError("index unreadable")

    h.deliveries.held_for = broken
    h.clock.advance(timedelta(seconds=61))
    await h.run()
    [digest] = [r for r in h.deliveries.records.values() if r["kind"] == "digest"]
    assert digest["state"] == "assembling", "it keeps collecting held pages on its next step"
    assert len(digest["attempts"]) == 1 and "unexpected RuntimeError: index unreadable" in digest["attempts"][0]["error"]
    h.deliveries.held_for = held_for
    await run_for(h, 3)
    assert len(h.webhook.sent) == 2 and h.webhook.sent[1].message == "digest"
    assert h.deliveries.records[digest["_id"]]["state"] == "delivered"


async def test_an_exception_while_recording_does_not_send_again_every_lease_forever(tmp_path):
    store = UnwritableAttempts()
    h = Harness(tmp_path, deliveries=store, max_interrupted=3)
    event = triaged()
    await h.handle(event)
    await run_for(h, 30)
    record = h.only("email")
    assert record["state"] == "failed", "the delivery ends instead of coming back every lease"
    assert len(h.email.sent) == 3, "sent once per lease until three steps in a row stored nothing"
    assert "gave up after 3 interrupted steps" in record["last_error"]
    [failed] = [e for e in store.events("notification.failed") if e["payload"]["channel"] == "email"]
    assert failed["ticket_id"] == event.ticket_id and "interrupted" in failed["payload"]["error"]
    refused = store.refused
    await run_for(h, 10)
    assert store.refused == refused and len(h.email.sent) == 3, "nothing happens after the give-up"


async def test_a_crash_mid_send_is_retried_without_counting_an_attempt(tmp_path):
    h = Harness(tmp_path)
    h.dies_before_sending = True
    await h.handle(triaged())
    delivery_id = h.only("email")["_id"]
    h.clock.advance(timedelta(seconds=31))
    # a second worker claims it after the first lease ran out, and dies too
    now = h.clock.now()
    assert await h.deliveries.claim(delivery_id, now, now + timedelta(seconds=30), "dies-as-well") is not None
    h.clock.advance(timedelta(seconds=31))
    await h.run()
    record = h.only("email")
    assert record["state"] == "delivered" and [a["outcome"] for a in record["attempts"]] == ["delivered"]
    assert record["unsettled_leases"] == 0 and len(h.email.sent) == 1


async def test_a_delivery_whose_steps_keep_dying_fails_without_being_sent_again(tmp_path):
    h = Harness(tmp_path, max_interrupted=2)
    h.dies_before_sending = True
    await h.handle(triaged())
    delivery_id = h.only("email")["_id"]
    h.clock.advance(timedelta(seconds=31))
    now = h.clock.now()
    await h.deliveries.claim(delivery_id, now, now + timedelta(seconds=30), "dies-as-well")
    h.clock.advance(timedelta(seconds=31))
    await h.run()
    record = h.only("email")
    assert record["state"] == "failed" and h.email.sent == []
    assert record["attempts"][-1]["outcome"] == "permanent" and "2 interrupted steps" in record["last_error"]
    assert [e["payload"]["channel"] for e in h.deliveries.events("notification.failed")] == ["email"]
