"""Clearing a ticket's `views_pending` mark a moment after its views were written, or never when a later write of
the ticket in this process takes the mark over first.

Every ticket write sets the mark and, once its views are written, clears it with one more write of
the ticket (adapters/tickets.py). The events of one ticket come in bursts (triage, then two clocks,
then the acknowledgement e-mail), and each later write sets the mark again anyway: waiting a moment
before clearing lets all but the last write of a burst skip their clear. A clear may be dropped only
for a write that began after the views of the clear's own write were written: that write replaced
the mark, and its views, written after its write, land after the earlier ones. A write that began
sooner may have had its views overtaken, so the earlier clear stays, and finding the mark replaced,
rewrites the views. A clear lost with the process leaves a mark, which the next start's recovery
finishes. Only for one intake process: another replica's write in between would make every
deferred clear find the mark replaced and rewrite the views.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DELAY_SECONDS = 1.0
"""How long a clear waits for a later write of the same ticket: a burst's events arrive within milliseconds."""


@dataclass
class PendingClear:
    """One mark to clear once due, registered at `order`."""

    ticket_id: str
    mark: int
    order: int
    due: float


class DeferredClears:
    """The marks this process owes a clear, cleared when due by `run` (while it runs: otherwise nothing is deferred)."""

    def __init__(self, clear: Callable[[str, int], Awaitable[None]], *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._clear = clear
        self._monotonic = monotonic
        self._pending: dict[str, list[PendingClear]] = {}
        self._queue: deque[PendingClear] = deque()
        self._order = itertools.count()
        self._delay: float | None = None
        self._wake = asyncio.Event()

    @property
    def active(self) -> bool:
        """Return True while clears are deferred (`run` is running)."""
        return self._delay is not None

    def owed(self, ticket_id: str) -> list[int]:
        """Return the marks of this ticket whose clear is still owed."""
        return [entry.mark for entry in self._pending.get(ticket_id, [])]

    def now(self) -> int:
        """Return this moment's place in the order of registrations: a write takes it before it reads its ticket."""
        return next(self._order)

    def defer(self, ticket_id: str, mark: int) -> None:
        """Owe the clear of mark on the ticket, whose views are written; it is done when due unless taken over."""
        assert self._delay is not None, "defer only while run() runs"
        entry = PendingClear(ticket_id, mark, next(self._order), self._monotonic() + self._delay)
        self._pending.setdefault(ticket_id, []).append(entry)
        self._queue.append(entry)
        self._wake.set()

    def take_over(self, ticket_id: str, since: int) -> None:
        """Drop the ticket's clears registered before `since`: a write that began then has replaced their mark."""
        entries = self._pending.get(ticket_id)
        if not entries:
            return
        kept = [entry for entry in entries if entry.order > since]
        if kept:
            self._pending[ticket_id] = kept
        else:
            del self._pending[ticket_id]

    async def run(self, delay: float = DELAY_SECONDS) -> None:
        """Clear each owed mark when due, until cancelled; then clear what is still owed and stop deferring."""
        self._delay = delay
        try:
            while True:
                await self._clear_due(self._monotonic())
                if self._queue:
                    await asyncio.sleep(max(0.0, self._queue[0].due - self._monotonic()))
                else:
                    self._wake.clear()
                    await self._wake.wait()
        finally:
            self._delay = None
            await self._clear_due(float("inf"))

    async def _clear_due(self, now: float) -> None:
        """Clear the owed marks due by now, in the order they were owed."""
        while self._queue and self._queue[0].due <= now:
            entry = self._queue.popleft()
            entries = self._pending.get(entry.ticket_id, [])
            if entry not in entries:
                continue  # taken over
            entries.remove(entry)
            if not entries:
                del self._pending[entry.ticket_id]
            try:
                await self._clear(entry.ticket_id, entry.mark)
            except Exception:  # the mark stays; the next start's recovery rewrites its views
                log.warning("could not clear a ticket's views mark", exc_info=True,
                            extra={"ticket_id": entry.ticket_id})
