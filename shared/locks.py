"""Per-key asyncio locks, so writes to one document from one process never interleave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    """One lock per key, created on demand and dropped when nobody holds or awaits it.

    The docstore (FerretDB v1) applies updates as read-modify-write, so two concurrent updates of
    the same document can lose one of them; serialising them per document within a process
    closes that gap. On MongoDB the updates are atomic anyway and the lock costs little.
    """

    def __init__(self, *, exclusive_writer: bool = False) -> None:
        self.exclusive_writer = exclusive_writer
        """True when this process is the only writer of these documents (see shared.documents)."""
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
