"""Delivers one due delivery: claim it with a lease, apply the rate limit or fold it into a digest,
send, record the attempt, and either finish (with notification.delivered/failed in its outbox) or
schedule the next attempt as data.

Two kinds of trouble are kept apart. An exception inside a step (a sender or template bug, a broken
document) is an attempt like any other failure: it is recorded with its error and follows the retry
policy into notification.failed. A step that ends without storing anything (the process died, or
storing the result itself failed) leaves its lease to run out and the delivery is tried again; the
leases taken since the last stored result are counted, and after the policy's `max_interrupted`
such steps the delivery fails without being sent again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.notifier.adapters.channels import ChannelSender
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.rate_slots import RateSlots
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain import deliveries as d
from services.notifier.domain.outcomes import final_events
from services.notifier.domain.retry import (
    Decision,
    Outcome,
    RetryPolicy,
    SendResult,
    permanent,
    unexpected,
)
from services.notifier.domain.routing import Channel, Router
from shared.clock import Clock
from shared.ids import new_id
from shared.persistence import while_unreachable

log = logging.getLogger(__name__)


class RecordingFailed(RuntimeError):
    """Storing a step's result failed: the step ends unsettled and its lease is left to run out."""


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
        return {**document, "lease_owner": self._new_owner(), "lease_until": self.clock.now() + self.lease,
                d.LEASES: 1}

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
        """Advance a delivery this step holds the lease of by one step.

        An exception in the step is recorded as a failed attempt; one while recording (RecordingFailed)
        propagates and leaves the lease to run out, which the next step counts as an interruption.
        """
        interrupted = d.interrupted_steps(document)
        give_up = self.policy.after_interruptions(interrupted)
        if give_up is not None:
            await self._give_up(document, owner, give_up)
            return
        await self._guarded(document, owner, self._step(document, owner))

    async def _step(self, document: dict[str, Any], owner: str) -> None:
        """Assemble a digest and send it, start a digest for a held delivery, or make one attempt."""
        if document["state"] == d.ASSEMBLING:
            await self._assemble(document, owner)
            await self.process(document["_id"])
        elif document["state"] == d.HELD:
            await self._start_digest(document, owner)
        else:
            await self._attempt(document, owner)

    async def _guarded(self, document: dict[str, Any], owner: str, step: Awaitable[None]) -> bool:
        """Run a step of a leased delivery; return False if it raised, after recording that as a failed attempt."""
        try:
            await step
            return True
        except RecordingFailed:
            raise
        except Exception as exc:
            log.exception("delivery step failed; recorded as a failed attempt", extra={"x_delivery_id": document["_id"]})
            await self._record(document, owner, unexpected(exc), 0.0, self._target(document), keep_state=True)
            return False

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
        started = time.perf_counter()
        result = await self._send(document)
        elapsed = time.perf_counter() - started
        await self._record(document, owner, result, elapsed, self._target(document))

    async def _send(self, document: dict[str, Any]) -> SendResult:
        """Return the result of one send; an exception while preparing or sending is an unexpected (transient) result."""
        url = None if document["channel"] == Channel.EMAIL else self.router.endpoint_url(document["address"])
        try:
            outgoing, problem = await self._outgoing(document)
            return problem or await self.senders[document["channel"]].send(outgoing)
        except Exception as exc:
            log.exception("send failed unexpectedly; recorded as a failed attempt",
                          extra={"x_delivery_id": document["_id"]})
            return unexpected(exc, hide=url, shown_as=d.redact_url(url) if url else "")

    def _target(self, document: dict[str, Any]) -> str:
        """Return where a delivery goes as attempts show it: the e-mail address, or the endpoint's scheme and host."""
        address = document["address"]
        if document["channel"] == Channel.EMAIL:
            return address
        url = self.router.endpoint_url(address)
        return d.redact_url(url) if url else address

    async def _outgoing(self, document: dict[str, Any]) -> tuple[d.Outgoing, SendResult | None]:
        """Return what to send, or a permanent failure if the target can no longer be resolved."""
        channel = document["channel"]
        problem = None
        address = document["address"]
        endpoint = None
        if channel != Channel.EMAIL:
            endpoint = address
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
            recipient_role=document.get("role"), data=document.get("data") or {}, items=items, endpoint=endpoint,
        )
        return outgoing, problem

    async def _record(self, document: dict[str, Any], owner: str, result: SendResult, elapsed: float, target: str,
                      *, decision: Decision | None = None, keep_state: bool = False) -> None:
        """Store the attempt and the decision; final states carry their events in the outbox.

        keep_state: a delivery that stays claimable keeps its held/assembling state (a failed digest step).
        Raises RecordingFailed if the result cannot be stored.
        """
        now = self.clock.now()
        channel = document["channel"]
        attempt_no = len(document.get("attempts", [])) + 1
        decision = decision or self.policy.decide(result, attempt_no, now, self.rng)
        attempt = d.attempt_record(at=now, channel=channel, target=target, outcome=result.outcome.value,
                                   error=result.error, status=result.status, duration_seconds=elapsed,
                                   retry_at=decision.next_attempt_at)
        fields: dict[str, Any] = {"state": decision.state, "updated_at": now}
        if decision.state == d.PENDING:
            if keep_state and document["state"] in (d.HELD, d.ASSEMBLING):
                fields["state"] = document["state"]
            fields["next_attempt_at"] = decision.next_attempt_at
            fields["last_error"] = result.error
        elif decision.state == d.DELIVERED:
            fields["delivered_at"] = now
        else:
            fields["failed_at"] = now
            fields["last_error"] = decision.error
        outbox = await self._final_events(document, attempt_no, decision) if decision.final else []
        # the message is out: keep trying to record that while the lease holds, or it would be sent again
        try:
            settled = await while_unreachable(
                lambda: self.deliveries.settle(document["_id"], owner, fields, attempt=attempt, outbox=outbox),
                for_seconds=max(0.0, (document["lease_until"] - self.clock.now()).total_seconds() - 1))
        except Exception as exc:
            raise RecordingFailed(f"cannot store attempt {attempt_no} of {document['_id']}: "
                                  f"{type(exc).__name__}: {exc}") from exc
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

    async def _give_up(self, document: dict[str, Any], owner: str, decision: Decision) -> None:
        """Fail a delivery whose steps kept ending unsettled, without sending it again.

        If even that cannot be stored with its attempt record, the final state and events are stored alone.
        """
        log.error("delivery given up after interrupted steps", extra={"x_delivery_id": document["_id"]})
        result = permanent(decision.error or "interrupted")
        try:
            await self._record(document, owner, result, 0.0, self._target(document), decision=decision)
            return
        except RecordingFailed:
            log.exception("cannot store the give-up attempt; storing the final state alone",
                          extra={"x_delivery_id": document["_id"]})
        now = self.clock.now()
        outbox = await self._final_events(document, len(document.get("attempts", [])) + 1, decision)
        fields = {"state": d.FAILED, "updated_at": now, "failed_at": now, "last_error": decision.error}
        if await self.deliveries.settle(document["_id"], owner, fields, outbox=outbox):
            self.metrics.notifications.labels(document["channel"], d.FAILED).inc()
            self.on_outbox(document["_id"])

    async def _final_events(self, document: dict[str, Any], attempts: int, decision: Decision) -> list[dict[str, Any]]:
        """Return notification.delivered/failed envelopes: one per delivery, or one per digested item.

        A delivery whose events cannot be built (a bug) is finished without them rather than sent again;
        raises RecordingFailed if a digest's items cannot be read.
        """
        try:
            subjects = await self.deliveries.items(document["_id"]) if document["kind"] == d.DIGEST else [document]
        except Exception as exc:
            raise RecordingFailed(f"cannot read the items of digest {document['_id']}: {type(exc).__name__}: {exc}") \
                from exc
        try:
            return final_events(document, subjects, attempts, decision, self.clock.now())
        except Exception:
            log.exception("cannot build the final events of a delivery; it is finished without them",
                          extra={"x_delivery_id": document["_id"]})
            return []

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
        if await self._guarded(digest, owner, self._assemble(digest, owner, first=held)):
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
