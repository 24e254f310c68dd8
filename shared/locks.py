"""Per-key asyncio locks: one process's updates of a document wait for each other instead of racing.

Correctness never rests on them: every shared document is written with a guarded update
(shared.documents), which holds across processes. A lock only spares a process the wasted work
of computing a change that its own other task is about to make stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    """One lock per key, created on demand and dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}
        self._holders: dict[Hashable, asyncio.Task] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the lock for key for the duration of the block (a task already holding it just continues)."""
        task = asyncio.current_task()
        if task is not None and self._holders.get(key) is task:
            yield
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                self._holders[key] = task
                try:
                    yield
                finally:
                    self._holders.pop(key, None)
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def held(self) -> int:
        """Return how many keys are locked or awaited right now."""
        return len(self._locks)
