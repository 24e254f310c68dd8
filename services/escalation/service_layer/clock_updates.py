"""Applies a mutation to one ticket's clock record: read, compute (pure), store with its owed messages, retry on races.

Used by the event handlers, the vendor reply consumer and the timer loop, so all of them write a
clock record the same way: state, `fired` steps, `applied_events` and the outbox in one guarded update.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.escalation.adapters.clocks import ClockRecords
from services.escalation.adapters.metrics import EscalationMetrics
from services.escalation.domain.effects import (
    EPOCH,
    Context,
    Effects,
    NeedNumber,
    new_clock_record,
)
from services.escalation.domain.oncall.config import OnCallConfig
from services.escalation.domain.policy import EscalationPolicy
from services.escalation.domain.timers import fire_due, next_due_at
from shared.clock import Clock
from shared.contracts import format_number, make_envelope
from shared.documents import LostRace

log = logging.getLogger(__name__)

PRODUCER = "escalation"
MAX_ATTEMPTS = 20
APPLIED_EVENTS_KEPT = 500

ClockMutation = Callable[[dict[str, Any], Context, Effects], None]
"""A pure change of a clock record (mutated in place), adding what it owes to the Effects."""


class OnCallSource(Protocol):
    """The on-call configuration as it is now (cached by its version; see adapters/oncall_store.py)."""

    async def current(self) -> OnCallConfig | None: ...


@dataclass
class ClockUpdater:
    """Everything a mutation needs: the store, the policy, the time and how new ticket numbers look."""

    store: ClockRecords
    policy: EscalationPolicy
    clock: Clock
    number_prefix: str = "ESC"
    on_outbox: Callable[[str, bool, dict[str, Any] | None], None] = lambda ticket_id, vendor, document: None
    """Called after a save that owes events: (ticket id, whether vendor messages are owed too, the record as saved)."""
    metrics: EscalationMetrics | None = None
    oncall: OnCallSource | None = None
    """Where pages find who is on call; None: no on-call configuration, static contacts are paged."""

    async def _context(self, now: datetime, numbers: list[str]) -> Context:
        """Return what a computation may use now, with the current on-call configuration."""
        return Context(now, self.policy, numbers, await self.oncall.current() if self.oncall is not None else None)

    async def apply(self, ticket_id: str, event_id: str, mutation: ClockMutation, *, create_number: str | None = None,
                    correlation_id: str | None = None, expect_new: bool = False) -> bool:
        """Apply the mutation once per event_id; create the clock record first if create_number is given.

        With expect_new (the event that usually comes first) the record is built and inserted in
        one command, and only an existing record falls back to reading it. Return False when the
        ticket has no clock record and the event cannot create one.
        """
        numbers: list[str] = []
        if expect_new and create_number is not None:
            created = await self._create_with(ticket_id, event_id, create_number, mutation, numbers, correlation_id)
            if created:
                return True
        for _ in range(MAX_ATTEMPTS):
            async with self.store.locks.hold(ticket_id):
                now = self.clock.now()
                before = await self.store.get(ticket_id)
                if before is None:
                    if create_number is None:
                        return False
                    await self.store.create(new_clock_record(ticket_id, create_number, now))
                    continue
                if event_id in before.get("applied_events", []):
                    return True
                after = copy.deepcopy(before)
                ctx, fx = await self._context(now, numbers), Effects()
                try:
                    mutation(after, ctx, fx)
                except NeedNumber:
                    numbers.append(await self._allocate_number())
                    continue
                after["applied_events"] = [*after["applied_events"], event_id][-APPLIED_EVENTS_KEPT:]
                if await self._store(before, after, fx, now, correlation_id):
                    return True
        raise LostRace(f"clock {ticket_id} kept changing while applying {event_id}")

    async def _create_with(self, ticket_id: str, event_id: str, number: str, mutation: ClockMutation,
                           numbers: list[str], correlation_id: str | None) -> bool:
        """Insert a new record with the mutation already applied (one command); False if a record exists."""
        for _ in range(MAX_ATTEMPTS):
            now = self.clock.now()
            record = new_clock_record(ticket_id, number, now)
            ctx, fx = await self._context(now, numbers), Effects()
            try:
                mutation(record, ctx, fx)
            except NeedNumber:
                numbers.append(await self._allocate_number())
                continue
            record["applied_events"] = [event_id]
            record["next_due_at"] = next_due_at(record, self.policy)
            record["outbox"] = self._envelopes(fx, now, ticket_id, correlation_id)
            record["vendor_outbox"] = self._vendor_messages(fx)
            if not await self.store.create(record):
                return False
            if self.metrics is not None:
                self.metrics.observe(record, fx, now)
            if record["outbox"] or record["vendor_outbox"]:
                self.on_outbox(ticket_id, bool(record["vendor_outbox"]), record)
            return True
        raise LostRace(f"clock {ticket_id} could not be created for {event_id}")

    async def fire(self, ticket_id: str, owner: str, lease: timedelta) -> list[str]:
        """Claim a due clock with a lease, fire its due steps once, reschedule and release; return keys fired."""
        now = self.clock.now()
        if not await self.store.claim(ticket_id, now, now + lease, owner):
            return []
        numbers: list[str] = []
        for _ in range(MAX_ATTEMPTS):
            async with self.store.locks.hold(ticket_id):
                now = self.clock.now()
                before = await self.store.get(ticket_id)
                if before is None or before.get("lease_owner") != owner:
                    return []
                after = copy.deepcopy(before)
                ctx, fx = await self._context(now, numbers), Effects()
                try:
                    keys = fire_due(after, ctx, fx)
                except NeedNumber:
                    numbers.append(await self._allocate_number())
                    continue
                after.update(lease_until=EPOCH, lease_owner=None)
                if await self._store(before, after, fx, now, None, condition={"lease_owner": owner}):
                    if keys:
                        log.info("clock steps fired", extra={"ticket_id": ticket_id, "x_steps": keys})
                    return keys
        raise LostRace(f"clock {ticket_id} kept changing while its due steps fired")

    def _envelopes(self, fx: Effects, now: datetime, ticket_id: str, correlation_id: str | None) -> list[dict[str, Any]]:
        """Return the envelope documents of the events a change owes."""
        return [make_envelope(event, producer=PRODUCER, occurred_at=now, ticket_id=ticket_id,
                              correlation_id=correlation_id).to_document() for event in fx.events]

    @staticmethod
    def _vendor_messages(fx: Effects) -> list[dict[str, Any]]:
        """Return the vendor outbox entries a change owes."""
        return [{"message_id": message.handoff_id, "routing_key": key, "body": message.model_dump(mode="json")}
                for key, message in fx.vendor_messages]

    async def _store(self, before: dict[str, Any], after: dict[str, Any], fx: Effects, now: datetime,
                     correlation_id: str | None, condition: dict[str, Any] | None = None) -> bool:
        """Reschedule and save with the owed events and vendor messages; return False on a lost race.

        Metrics are observed only once the guarded write succeeded, so each fired step counts once.
        """
        after["next_due_at"] = next_due_at(after, self.policy)
        after["updated_at"] = now
        outbox = self._envelopes(fx, now, after["_id"], correlation_id)
        vendor_outbox = self._vendor_messages(fx)
        saved = await self.store.save(before, after, outbox, vendor_outbox, condition)
        if saved is not None and self.metrics is not None:
            self.metrics.observe(after, fx, now)
        if saved is not None and (outbox or vendor_outbox):
            self.on_outbox(after["_id"], bool(vendor_outbox), saved)
        return saved is not None

    async def _allocate_number(self) -> str:
        """Return a new ticket number from escalation's own sequence (its prefix keeps it apart from intake's)."""
        return format_number(self.number_prefix, await self.store.next_sequence())
