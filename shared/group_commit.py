"""Group commit of updates by `_id`: what arrives while a write is in flight goes out with the next one, merged.

One write at a time per GroupCommit. A submit made while nothing is in flight is written at once
(no added wait when idle); submits made while a write is in flight wait for it and then go out
together, with each document's updates merged into one (shared/update_merging.py). Under load a
document many callers touch (a shelf, a posting list, an open-work bucket) is read and written
once per write instead of once per caller, which is what a store that rewrites a whole document
per update (FerretDB v1) spends its time on. A submit returns only once its updates are written,
and raises what that write raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shared.update_merging import Update, merged_update

MAX_DOCUMENTS = 50
"""Documents per write at most: one command, within the statements the docstore takes per command (tools/docstore/batches.go)."""


@dataclass
class _Batch:
    """Updates waiting to be written together, and the future their submitters wait on."""

    updates: dict[str, Update] = field(default_factory=dict)
    done: asyncio.Future | None = None


class GroupCommit:
    """Writes {document id: update} through `write`, one write at a time, merging what waits."""

    def __init__(self, write: Callable[[dict[str, Update]], Awaitable[None]], *,
                 max_documents: int = MAX_DOCUMENTS) -> None:
        self._write = write
        self._max_documents = max_documents
        self._waiting: list[_Batch] = []
        self._flusher: asyncio.Task | None = None
        self.writes = 0

    async def submit(self, updates: dict[str, Update]) -> None:
        """Return once these updates are written (merged with others); raise what the write raised."""
        if not updates:
            return
        batch = self._batch_with(updates)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(batch.done)

    def _batch_with(self, updates: dict[str, Update]) -> _Batch:
        """Return the waiting batch these updates were merged into (a new one if the last cannot take them)."""
        if self._waiting:
            last = self._waiting[-1]
            merged = self._merged(last.updates, updates)
            if merged is not None:
                last.updates.update(merged)
                return last
        batch = _Batch(updates=dict(updates), done=asyncio.get_running_loop().create_future())
        batch.done.add_done_callback(_retrieved)
        self._waiting.append(batch)
        return batch

    def _merged(self, waiting: dict[str, Update], updates: dict[str, Update]) -> dict[str, Update] | None:
        """Return the documents of waiting updated by updates, or None if they cannot join that batch."""
        if len(waiting.keys() | updates.keys()) > self._max_documents:
            return None
        try:
            return {doc_id: merged_update(waiting[doc_id], update) if doc_id in waiting else update
                    for doc_id, update in updates.items()}
        except ValueError:
            return None

    async def _flush(self) -> None:
        """Write the waiting batches oldest first until none is left, settling each one's future."""
        while self._waiting:
            batch = self._waiting.pop(0)
            try:
                await self._write(batch.updates)
                self.writes += 1
            except asyncio.CancelledError:
                for cut_short in (batch, *self._waiting):
                    cut_short.done.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:  # every submitter of the batch gets the failure, as a write of its own would
                batch.done.set_exception(exc)
            else:
                batch.done.set_result(None)


def _retrieved(future: asyncio.Future) -> None:
    """Mark a batch's failure as seen even if every submitter stopped waiting."""
    if not future.cancelled():
        future.exception()
