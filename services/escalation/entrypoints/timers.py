"""The timer loop: polls the clocks' schedule for due entries, claims each clock with a lease, fires it, reschedules."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from services.escalation.adapters.clocks import ClockRecords
from services.escalation.service_layer.clock_updates import ClockUpdater
from shared.clock import Clock, poll_forever
from shared.ids import new_id
from shared.schedule import NotStoredYet

log = logging.getLogger(__name__)


class TimerLoop:
    """Fires due clock steps about every `poll_seconds`; restarts catch up on everything that fell due."""

    def __init__(self, updater: ClockUpdater, store: ClockRecords, clock: Clock, *, poll_seconds: float = 1.0,
                 lease: timedelta = timedelta(seconds=30), batch_size: int = 100, owner: str | None = None) -> None:
        self._updater = updater
        self._store = store
        self._clock = clock
        self._poll = poll_seconds
        self._lease = lease
        self._batch = batch_size
        self.owner = owner or f"timers-{new_id()}"
        self._wake = asyncio.Event()
        self._indexed = False

    def wake(self) -> None:
        """Ask for a pass now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> list[str]:
        """Fire every clock due now (in batches); return the step keys this pass fired."""
        fired: list[str] = []
        if not self._indexed:
            added = await self._store.index_existing(self._clock.now())
            if added is not None:
                log.info("scheduled clocks stored before the schedule existed", extra={"x_entries": added})
            self._indexed = True
        while True:
            due = await self._store.due(self._clock.now(), self._batch)
            progress = False
            for ticket_id in due:
                try:
                    keys = await self._updater.fire(ticket_id, self.owner, self._lease)
                except asyncio.CancelledError:
                    raise
                except NotStoredYet:
                    await self._store.postpone(ticket_id, self._clock.now())
                    continue
                except Exception:
                    log.exception("firing a clock failed; it is retried at the next pass",
                                  extra={"ticket_id": ticket_id})
                    continue
                await self._store.handled(ticket_id)
                progress = True
                fired += keys
            if len(due) < self._batch or not progress:
                return fired

    async def run(self) -> None:
        """Poll forever; errors are logged and the pass retried at the next poll."""
        await poll_forever("timer", self.run_once, self._wake, self._poll)
