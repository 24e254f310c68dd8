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
from shared.documents import guarded_update, update_by_id
from shared.locks import KeyedLocks
from shared.messaging.publisher import Publisher
from shared.metrics import PipelineMetrics

log = logging.getLogger(__name__)

PENDING = {"outbox.0": {"$exists": True}}


class OutboxRelay:
    """Moves events from `outbox` arrays of the given collections onto the bus.

    Writers that know which document owes events `hint()` it, and the relay publishes that
    document at once (a lookup by `_id`). A full scan for pending outboxes runs every
    `scan_seconds` and whenever `wake()` is called without a hint: it finds whatever a crash left.
    """

    def __init__(
        self,
        collections: list[AsyncCollection],
        publisher: Publisher,
        metrics: PipelineMetrics,
        *,
        poll_seconds: float = 1.0,
        scan_seconds: float = 5.0,
        batch_size: int = 200,
        locks: dict[str, KeyedLocks] | None = None,
    ) -> None:
        self._collections = {collection.name: collection for collection in collections}
        self._locks = locks if locks is not None else {}
        self._publisher = publisher
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._scan_seconds = scan_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._hints: dict[tuple[str, Any], None] = {}
        self._scan_due = True

    def wake(self) -> None:
        """Ask for a full pass now instead of at the next scheduled scan."""
        self._scan_due = True
        self._wake.set()

    def hint(self, collection: str, document_id: Any) -> None:
        """Publish this document's outbox now; cheaper than a scan, so writers call it after every write."""
        self._hints[(collection, document_id)] = None
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
        locks = self._locks.get(collection.name)
        if locks is not None and locks.exclusive_writer:
            # this process is the only writer and this relay the only popper, and events are only
            # ever appended: the head is the event just published, so no read is needed
            async with locks.hold(document_id):
                await update_by_id(collection, document_id, {"$pop": {"outbox": -1}, "$inc": {"rev": 1}})
            return
        await guarded_update(
            collection,
            document_id,
            {"outbox.0.event_id": event_id},
            {"$pop": {"outbox": -1}},
            locks=self._locks.get(collection.name),
        )

    async def flush_hinted(self) -> int:
        """Publish the outboxes of the hinted documents; return the number of events published."""
        total = 0
        while self._hints:
            (name, document_id), _ = self._hints.popitem()
            collection = self._collections[name]
            document = await collection.find_one({"_id": document_id}, {"outbox": 1})
            if document is not None:
                total += await self.flush(collection, document)
        return total

    async def run_once(self) -> int:
        """Publish every pending outbox once (a full scan); return the number of events published."""
        total = 0
        for collection in self._collections.values():
            # read the batch to the end before writing to the documents it found
            documents = await collection.find(PENDING, {"outbox": 1}).limit(self._batch_size).to_list()
            self._metrics.outbox_backlog.labels(collection.name).set(len(documents))
            for document in documents:
                total += await self.flush(collection, document)
        return total

    async def run(self) -> None:
        """Relay forever: hinted documents at once, a full scan every scan_seconds or when woken."""
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while True:
            try:
                await self.flush_hinted()
                if self._scan_due or loop.time() >= next_scan:
                    self._scan_due = False
                    next_scan = loop.time() + self._scan_seconds
                    await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                self._scan_due = True
            await sleep_or_wake(self._wake, min(self._poll_seconds, max(0.0, next_scan - loop.time())))
