"""Outbox relay: publishes events stored inside documents, then removes them, so none is lost.

A document that owes events carries them in its `outbox` array, written in the same atomic
update as the state change. The relay publishes each in order with confirms and pops it afterwards;
a crash in between republishes the same event_id, which consumers drop as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.clock import sleep_or_wake
from shared.contracts import Envelope
from shared.documents import guarded_update
from shared.locks import KeyedLocks
from shared.locks import KeyedLocks
from shared.messaging.publisher import Publisher
from shared.metrics import PipelineMetrics

log = logging.getLogger(__name__)

PENDING = {"outbox.0": {"$exists": True}}


class OutboxRelay:
    """Moves events from `outbox` arrays of the given collections onto the bus."""

    def __init__(
        self,
        collections: list[AsyncCollection],
        publisher: Publisher,
        metrics: PipelineMetrics,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
        locks: dict[str, KeyedLocks] | None = None,
    ) -> None:
        self._collections = collections
        self._locks = locks if locks is not None else {}
        self._publisher = publisher
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask the relay loop to run a pass now instead of at its next poll."""
        self._wake.set()

    async def flush(self, collection: AsyncCollection, document: Mapping[str, Any]) -> int:
        """Publish the outbox of one document in order; return how many events were published."""
        published = 0
        for raw in document.get("outbox", []):
            envelope = Envelope.model_validate(raw)
            await self._publisher.publish(envelope)
            await self._pop(collection, document["_id"], envelope.event_id)
            published += 1
        return published

    async def _pop(self, collection: AsyncCollection, document_id: Any, event_id: str) -> None:
        """Remove the outbox head if it is still this event (another relay may have done it already)."""
        await guarded_update(
            collection,
            document_id,
            {"outbox.0.event_id": event_id},
            {"$pop": {"outbox": -1}},
            locks=self._locks.get(collection.name),
        )

    async def run_once(self) -> int:
        """Publish every pending outbox once; return the number of events published."""
        total = 0
        for collection in self._collections:
            # read the batch to the end before writing: an open cursor on the docstore can make
            # later updates of the same documents work from a stale snapshot
            documents = await collection.find(PENDING, {"outbox": 1}).limit(self._batch_size).to_list()
            self._metrics.outbox_backlog.labels(collection.name).set(len(documents))
            for document in documents:
                total += await self.flush(collection, document)
        return total

    async def run(self) -> None:
        """Relay forever: a pass when woken or every poll interval; errors are logged and retried."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            await sleep_or_wake(self._wake, self._poll_seconds)
