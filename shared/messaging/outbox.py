"""Outbox relay: publishes events stored inside documents, then removes them, so none is lost.

A document that owes events carries them in its `outbox` array, written in the same atomic
update as the state change. The relay publishes each in order with confirms and then removes the
published ones in one write; a crash in between republishes the same event_ids, which consumers
drop as duplicates. Writers hint the documents they wrote; a scan for outboxes a crash left runs
once at start (never at rest, so an idle system reads nothing), and a failed publish is retried
from the hints it kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.clock import sleep_or_wake
from shared.contracts import Envelope
from shared.documents import update_one_returning
from shared.messaging.publisher import Publisher
from shared.metrics import PipelineMetrics

log = logging.getLogger(__name__)

PENDING = {"outbox.event_id": {"$exists": True}}
"""Documents owing events; on MongoDB a sparse index on outbox.event_id answers it (shared/runtime.py)."""


class OutboxRelay:
    """Moves events from `outbox` arrays of the given collections onto the bus.

    Writers that know which document owes events `hint()` it, and the relay publishes that
    document at once (a lookup by `_id`). A full scan for pending outboxes runs once at start
    (for the collections in `scan_at_start`) and whenever `wake()` asks for one.
    """

    def __init__(
        self,
        collections: list[AsyncCollection],
        publisher: Publisher,
        metrics: PipelineMetrics,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
        scan_at_start: set[str] | None = None,
        settled_marks: dict[str, str] | None = None,
    ) -> None:
        self._collections = {collection.name: collection for collection in collections}
        self._scan_at_start = set(self._collections) if scan_at_start is None else scan_at_start
        self._settled_marks = settled_marks or {}
        """collection -> a field its writers set with each write and clear once all of the write's work is done;
        the relay clears it in the same command that removes the published events (one command less per write)."""
        self.unsettled: dict[str, Callable[[Any], Awaitable[None]]] = {}
        """collection -> what to call with a document id when its mark had moved on: a later write (by any
        replica) came in between, so whatever the mark stood for may need doing again from the document as it is."""
        self._publisher = publisher
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._hints: dict[tuple[str, Any], Mapping[str, Any] | None] = {}
        self._scan_due: set[str] = set(self._scan_at_start)

    def wake(self) -> None:
        """Ask for a full scan of every collection now (what a crash may have left)."""
        self._scan_due = set(self._collections)
        self._wake.set()

    def hint(self, collection: str, document_id: Any, document: Mapping[str, Any] | None = None) -> None:
        """Publish this document's outbox now; writers call it after a write that owes events.

        A writer that has the document as written passes it, and the relay reads nothing: what it
        publishes is that outbox (events are only ever appended, so nothing owed is missing from it).
        """
        key = (collection, document_id)
        if document is None or (key in self._hints and self._hints[key] is None):
            self._hints[key] = None  # a fresh read was asked for: keep asking for it
        else:
            self._hints[key] = document  # the latest write's outbox holds everything still owed
        self._wake.set()

    async def flush(self, collection: AsyncCollection, document: Mapping[str, Any]) -> int:
        """Publish the outbox of one document in order, then remove what was published; return how many."""
        published = []
        for raw in document.get("outbox", []):
            await self._publisher.publish(Envelope.model_validate(raw))
            published.append(raw)
        if published:
            # exactly these entries go (writers only append), so no read and no revision guard is needed
            pop: dict[str, Any] = {"$pullAll": {"outbox": published}, "$inc": {"rev": 1}}
            mark = self._settled_marks.get(collection.name)
            if mark is None or mark not in document:
                await update_one_returning(collection, {"_id": document["_id"]}, pop)
            elif await update_one_returning(collection, {"_id": document["_id"], mark: document[mark]},
                                            {**pop, "$unset": {mark: ""}}) is None:
                # another write (this replica's or another's) came in between: pop, and let it be settled again
                await update_one_returning(collection, {"_id": document["_id"]}, pop)
                if collection.name in self.unsettled:
                    await self.unsettled[collection.name](document["_id"])
        return len(published)

    async def flush_hinted(self) -> int:
        """Publish the outboxes of the hinted documents; a document whose publish fails stays hinted."""
        total = 0
        while self._hints:
            (name, document_id), known = self._hints.popitem()
            collection = self._collections[name]
            try:
                document = known if known is not None else await collection.find_one({"_id": document_id}, {"outbox": 1})
                if document is not None:
                    total += await self.flush(collection, document)
            except Exception:
                self._hints[(name, document_id)] = None
                raise
        return total

    async def scan(self, names: set[str] | None = None) -> int:
        """Publish every pending outbox of the named collections (all if None); return the events published."""
        total = 0
        for name, collection in self._collections.items():
            if names is not None and name not in names:
                continue
            while True:
                # read the batch to the end before writing to the documents it found
                documents = await collection.find(PENDING, {"outbox": 1}).limit(self._batch_size).to_list()
                self._metrics.outbox_backlog.labels(collection.name).set(len(documents))
                for document in documents:
                    total += await self.flush(collection, document)
                if len(documents) < self._batch_size:
                    break
        return total

    async def run_once(self) -> int:
        """Publish every pending outbox once (a full scan of every collection); return the number published."""
        return await self.scan()

    async def run(self) -> None:
        """Relay forever: hinted documents at once; the scans asked for (at start, by wake()); retry what failed."""
        retry = self._poll_seconds
        while True:
            try:
                await self.flush_hinted()
                if self._scan_due:
                    names, self._scan_due = self._scan_due, set()
                    try:
                        await self.scan(names)
                    except Exception:
                        self._scan_due |= names
                        raise
                retry = self._poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                retry = min(retry * 2, 30.0)
            await sleep_or_wake(self._wake, retry if (self._hints or self._scan_due) else self._poll_seconds * 60)
