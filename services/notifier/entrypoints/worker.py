"""The delivery loop: processes new deliveries at once and polls the deliveries' schedule for due ones,
with bounded concurrency."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any

from services.notifier.adapters.deliveries import Deliveries
from services.notifier.service_layer.dispatch import Dispatcher
from shared.clock import Clock, poll_forever
from shared.schedule import NotStoredYet

log = logging.getLogger(__name__)


class DeliveryLoop:
    """Starts a task per due delivery, at most `concurrency` at once; a slow send never blocks the others."""

    def __init__(self, dispatcher: Dispatcher, deliveries: Deliveries, clock: Clock, *,
                 poll_seconds: float, concurrency: int) -> None:
        self._dispatcher = dispatcher
        self._deliveries = deliveries
        self._clock = clock
        self._poll = poll_seconds
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._waiting: deque[dict[str, Any]] = deque()
        self._indexed = False

    def wake(self) -> None:
        """Ask for a pass now instead of at the next poll."""
        self._wake.set()

    def leased(self, document: dict[str, Any]) -> dict[str, Any]:
        """Return a new delivery leased to this loop, to be stored and then given to start()."""
        return self._dispatcher.leased(document)

    def start(self, document: dict[str, Any]) -> None:
        """Process a stored delivery leased to this loop now, or as soon as a slot is free.

        No poll and no claim: its lease keeps every other worker off it, and its schedule entry
        (at the lease's end) brings it back if this process dies first.
        """
        self._waiting.append(document)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Start waiting leased deliveries while slots are free; one whose lease is half gone is left to the poll."""
        now = self._clock.now()
        while self._waiting and len(self._inflight) < self._concurrency:
            document = self._waiting.popleft()
            if document["_id"] in self._inflight:
                continue
            if (document["lease_until"] - now).total_seconds() < self._dispatcher.lease.total_seconds() / 2:
                continue  # it would be claimed by the poll while we send: let the poll have it
            self._launch(document["_id"], self._dispatcher.process_leased(document, document["lease_owner"]))

    def _launch(self, delivery_id: str, step: Awaitable[None]) -> None:
        """Run one delivery step as a task of its own."""
        self._inflight[delivery_id] = asyncio.create_task(self._process(delivery_id, step),
                                                          name=f"delivery-{delivery_id}")

    async def run_once(self) -> int:
        """Start processing of due deliveries not already in flight; return how many were started."""
        if not self._indexed:
            added = await self._deliveries.index_existing(self._clock.now())
            if added is not None:
                log.info("scheduled deliveries stored before the schedule existed", extra={"x_entries": added})
            self._indexed = True
        self._start_waiting()
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return 0
        due = await self._deliveries.due(self._clock.now(), free + len(self._inflight))
        started = 0
        for delivery_id in due:
            if delivery_id in self._inflight or started >= free:
                continue
            self._launch(delivery_id, self._dispatcher.process(delivery_id))
            started += 1
        return started

    async def _process(self, delivery_id: str, step: Awaitable[None]) -> None:
        try:
            await step
            await self._deliveries.handled(delivery_id)
        except asyncio.CancelledError:
            raise
        except NotStoredYet:
            await self._deliveries.postpone(delivery_id, self._clock.now())
        except Exception:
            # the dispatcher records exceptions inside a step as attempts; what reaches here could not be
            # stored at all: the delivery comes due when its lease runs out, counted as an interrupted step
            log.exception("delivery step ended without storing its result; retried when its lease runs out",
                          extra={"x_delivery_id": delivery_id})
        finally:
            self._inflight.pop(delivery_id, None)
            self._start_waiting()
            self._wake.set()

    async def drain(self) -> None:
        """Wait until every started delivery step has finished (for tests and shutdown)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def run(self) -> None:
        """Poll forever: a pass when woken or every poll interval; errors are logged and retried."""
        try:
            await poll_forever("delivery loop", self.run_once, self._wake, self._poll)
        finally:
            for task in list(self._inflight.values()):
                task.cancel()
