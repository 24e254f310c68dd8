"""Delivers one due delivery: claim it with a lease, apply the rate limit or fold it into a digest,
send, record the attempt, and either finish (with notification.delivered/failed in its outbox) or
schedule the next attempt as data."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.notifier.adapters.channels import ChannelSender
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.rate_slots import RateSlots
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain import deliveries as d
from services.notifier.domain.retry import Outcome, RetryPolicy, SendResult, permanent
from services.notifier.domain.routing import Channel, Router
from shared.clock import Clock
from shared.contracts import (
    Envelope,
    NotificationDelivered,
    NotificationFailed,
    make_envelope,
)
from shared.ids import new_id
from shared.persistence import while_unreachable

log = logging.getLogger(__name__)
PRODUCER = "notifier"


@dataclass
class Dispatcher:
    """Processes claimed deliveries; safe to run in several processes at once (leases + guarded updates)."""

    deliveries: Deliveries
    slots: RateSlots
    senders: dict[str, ChannelSender]
    router: Router
    renderer: TemplateRenderer
    policy: RetryPolicy
    clock: Clock
    metrics: NotifierMetrics
    lease: timedelta
    rng: random.Random
    on_outbox: Callable[[str], None] = lambda delivery_id: None
    """Called with a delivery's id once its final events are in its outbox (the relay publishes them)."""
    owner_prefix: str = ""

    def leased(self, document: dict[str, Any]) -> dict[str, Any]:
        """Return a new delivery document leased to a fresh owner from now, so its creator can process it at once."""
        return {**document, "lease_owner": self._new_owner(), "lease_until": self.clock.now() + self.lease}

    def _new_owner(self) -> str:
        """Return a lease owner no other step uses."""
        return f"{self.owner_prefix}{new_id()}"

    async def process(self, delivery_id: str) -> None:
        """Advance one delivery by one step if it is due and nobody else holds it."""
        now = self.clock.now()
        owner = self._new_owner()
        document = await self.deliveries.claim(delivery_id, now, now + self.lease, owner)
        if document is None:
            return
        await self.process_leased(document, owner)

    async def process_leased(self, document: dict[str, Any], owner: str) -> None:
        """Advance a delivery this step holds the lease of by one step."""
        if document["state"] == d.ASSEMBLING:
            await self._assemble(document, owner)
            await self.process(document["_id"])
        elif document["state"] == d.HELD:
            await self._start_digest(document, owner)
        else:
            await self._attempt(document, owner)

    async def _attempt(self, document: dict[str, Any], owner: str) -> None:
        """Take the rate slot if the channel is limited, send once, and record the result."""
        now = self.clock.now()
        limit = self.router.rate_limit(document["channel"])
        if limit is not None and document["kind"] == "message":
            free_at = await self.slots.acquire(_slot_key(document), document["_id"], now, limit.interval)
            if free_at is not None:
                await self.deliveries.settle(document["_id"], owner,
                                             {"state": d.HELD, "next_attempt_at": free_at, "updated_at": now})
                self.metrics.notifications.labels(document["channel"], "held").inc()
                return
        outgoing, problem = await self._outgoing(document)
        started = time.perf_counter()
        result = problem or await self.senders[document["channel"]].send(outgoing)
        elapsed = time.perf_counter() - started
        await self._record(document, owner, result, elapsed, outgoing)

    async def _outgoing(self, document: dict[str, Any]) -> tuple[d.Outgoing, SendResult | None]:
        """Return what to send, or a permanent failure if the target can no longer be resolved."""
        channel = document["channel"]
        problem = None
        address = document["address"]
        if channel != Channel.EMAIL:
            url = self.router.endpoint_url(address)
            if url is None:
                problem = permanent(f"endpoint {address!r} is not configured")
            address = url or address
        items: list[dict[str, Any]] = []
        if document["kind"] == d.DIGEST:
            members = await self.deliveries.items(document["_id"])
            context = d.digest_context(members)
            content = self.renderer.content(d.DIGEST, channel, context, None)
            items = [{"message": i["message"], "number": i["number"], "subject": i["subject"]} for i in context["items"]]
        else:
            content = d.Content(**document["content"])
        outgoing = d.Outgoing(
            delivery_id=document["_id"], channel=channel, address=address, content=content,
            message=document["message"], ticket_id=document.get("ticket_id"), number=document.get("number"),
            source_event_id=document.get("source_event_id"), event_type=document.get("event_type"),
            recipient_role=document.get("role"), data=document.get("data") or {}, items=items,
        )
        return outgoing, problem

    async def _record(self, document: dict[str, Any], owner: str, result: SendResult, elapsed: float,
                      outgoing: d.Outgoing) -> None:
        """Store the attempt and the decision; final states carry their events in the outbox."""
        now = self.clock.now()
        channel = document["channel"]
        attempt_no = len(document.get("attempts", [])) + 1
        decision = self.policy.decide(result, attempt_no, now, self.rng)
        target = outgoing.address if channel == Channel.EMAIL else d.redact_url(outgoing.address)
        attempt = d.attempt_record(at=now, channel=channel, target=target, outcome=result.outcome.value,
                                   error=result.error, status=result.status, duration_seconds=elapsed,
                                   retry_at=decision.next_attempt_at)
        fields: dict[str, Any] = {"state": decision.state, "updated_at": now}
        outbox: list[dict[str, Any]] = []
        if decision.state == d.PENDING:
            fields["next_attempt_at"] = decision.next_attempt_at
            fields["last_error"] = result.error
        elif decision.state == d.DELIVERED:
            fields["delivered_at"] = now
            outbox = await self._final_events(document, attempt_no, None)
        else:
            fields["failed_at"] = now
            fields["last_error"] = decision.error
            outbox = await self._final_events(document, attempt_no, decision.error)
        # the message is out: keep trying to record that while the lease holds, or it would be sent again
        settled = await while_unreachable(
            lambda: self.deliveries.settle(document["_id"], owner, fields, attempt=attempt, outbox=outbox),
            for_seconds=max(0.0, (document["lease_until"] - self.clock.now()).total_seconds() - 1))
        self.metrics.attempts.labels(channel, result.outcome.value).inc()
        if not settled:
            log.warning("lease lost before recording an attempt", extra={"x_delivery_id": document["_id"]})
            return
        if decision.final:
            self.metrics.notifications.labels(channel, decision.state).inc()
            self.on_outbox(document["_id"])
        if result.outcome is Outcome.DELIVERED:
            self.metrics.latency.labels(channel).observe(max(0.0, (now - document["created_at"]).total_seconds()))
        log.info("delivery attempt", extra={"x_delivery_id": document["_id"], "x_channel": channel,
                                            "x_outcome": result.outcome.value, "x_state": decision.state,
                                            "x_error": result.error})

    async def _final_events(self, document: dict[str, Any], attempts: int, error: str | None) -> list[dict[str, Any]]:
        """Return notification.delivered/failed envelopes: one per delivery, or one per digested item."""
        if document["kind"] == d.DIGEST:
            subjects = await self.deliveries.items(document["_id"])
        else:
            subjects = [document]
        now = self.clock.now()
        envelopes: list[Envelope] = []
        for item in subjects:
            common = dict(delivery_id=item["_id"], source_event_id=item["source_event_id"], message=item["message"],
                          channel=item["channel"], recipient=item["recipient"], attempts=attempts)
            payload = (NotificationDelivered(**common) if error is None
                       else NotificationFailed(**common, error=error[:2000], role=item.get("role"),
                                               via_digest=document["kind"] == d.DIGEST or None))
            envelopes.append(make_envelope(payload, producer=PRODUCER, occurred_at=now,
                                           ticket_id=item.get("ticket_id"), correlation_id=item["source_event_id"]))
        return [envelope.to_document() for envelope in envelopes]

    async def _start_digest(self, held: dict[str, Any], owner: str) -> None:
        """When a held delivery's slot frees, start a digest of everything held for that contact and channel."""
        now = self.clock.now()
        digest_id = d.digest_id_for(held["_id"], held.get("digest_round", 0))
        limit = self.router.rate_limit(held["channel"])
        if limit is not None:
            free_at = await self.slots.acquire(_slot_key(held), digest_id, now, limit.interval)
            if free_at is not None:
                await self.deliveries.settle(held["_id"], owner, {"next_attempt_at": free_at, "updated_at": now})
                return
        await self.deliveries.create(d.new_digest(held, now, now + self.lease, owner))
        digest = await self.deliveries.get(digest_id)
        if digest is None or digest["state"] != d.ASSEMBLING:
            # an earlier run's digest already went out without this delivery: start a fresh one
            await self.deliveries.settle(held["_id"], owner, {"digest_round": held.get("digest_round", 0) + 1,
                                                              "next_attempt_at": now, "updated_at": now})
            return
        if digest.get("lease_owner") != owner:
            # an earlier run of this step crashed while assembling; that digest is claimed on its own
            await self.deliveries.join_digest(held["_id"], digest_id, now, owner)
            return
        await self._assemble(digest, owner, first=held)
        await self.process(digest_id)

    async def _assemble(self, digest: dict[str, Any], owner: str, first: dict[str, Any] | None = None) -> None:
        """Fold every unleased held delivery of the digest's contact and channel into it, then make it pending."""
        now = self.clock.now()
        if first is not None:
            await self.deliveries.join_digest(first["_id"], digest["_id"], now, owner)
        for item in await self.deliveries.held_for(digest["channel"], digest["recipient"]):
            if await self.deliveries.join_digest(item["_id"], digest["_id"], now, None):
                self.metrics.notifications.labels(digest["channel"], "digested").inc()
        if first is not None:
            self.metrics.notifications.labels(digest["channel"], "digested").inc()
        await self.deliveries.settle(digest["_id"], owner, {"state": d.PENDING, "next_attempt_at": now, "updated_at": now})


def _slot_key(document: dict[str, Any]) -> str:
    """Return the rate-limit key of a delivery: its channel and recipient."""
    return f"{document['channel']}:{document['recipient']}"
