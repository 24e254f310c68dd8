"""The delivery loop: polls the deliveries' schedule and processes each due one with bounded concurrency."""

from __future__ import annotations

import asyncio
import logging

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
        self._indexed = False

    def wake(self) -> None:
        """Ask for a pass now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Start processing of due deliveries not already in flight; return how many were started."""
        if not self._indexed:
            added = await self._deliveries.index_existing(self._clock.now())
            if added is not None:
                log.info("scheduled deliveries stored before the schedule existed", extra={"x_entries": added})
            self._indexed = True
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return 0
        due = await self._deliveries.due(self._clock.now(), free + len(self._inflight))
        started = 0
        for delivery_id in due:
            if delivery_id in self._inflight or started >= free:
                continue
            task = asyncio.create_task(self._process(delivery_id), name=f"delivery-{delivery_id}")
            self._inflight[delivery_id] = task
            started += 1
        return started

    async def _process(self, delivery_id: str) -> None:
        try:
            await self._dispatcher.process(delivery_id)
            await self._deliveries.handled(delivery_id)
        except asyncio.CancelledError:
            raise
        except NotStoredYet:
            await self._deliveries.postpone(delivery_id, self._clock.now())
        except Exception:
            log.exception("delivery step failed; it is retried when its lease runs out",
                          extra={"x_delivery_id": delivery_id})
        finally:
            self._inflight.pop(delivery_id, None)
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
