"""The console queue's open work, prepared once per stored version of each entry rather than once per page.

The open-work view documents are kept in memory by the views adapter (`VIEW_CACHE_SECONDS`) and
replaced when they are read again or written; their entries are the same objects until then. Each
entry's preparation (facet values, title words, its running clocks' places on the working
timeline: services/intake/domain/queue.py) is kept while that very entry object is served, so a
page only ranks and counts; an entry replaced by a newer version is prepared again on the next page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from services.intake.domain.queue import Me, QueueEntry, QueueFilter, QueueView, rank_queue
from shared.contracts import Status
from shared.sla.calendar import BusinessCalendar
from shared.sla.working_timeline import WorkingTimeline


class OpenWork(Protocol):
    """Where the open work is read (the views adapter)."""

    async def open_entries(self) -> list[dict[str, Any]]: ...


class OpenQueue:
    """The queue pages' view of the open work, each entry prepared once while it is unchanged."""

    def __init__(self, views: OpenWork, calendar: BusinessCalendar, at_risk_fraction: float) -> None:
        self.views = views
        self.timeline = WorkingTimeline(calendar)
        self.at_risk_fraction = at_risk_fraction
        self._prepared: dict[int, QueueEntry] = {}
        """Prepared entries by the identity of the entry object they were prepared from.

        Each prepared entry holds its entry object, so no other object can take that identity while it is a key."""

    async def view(self, wanted: QueueFilter, me: Me, *, now: datetime, limit: int,
                   since: str | None = None) -> QueueView:
        """Return the queue at now for this filter and person."""
        items = self.prepared(await self.views.open_entries())
        return rank_queue(items, wanted, me, now=now, timeline=self.timeline, at_risk_fraction=self.at_risk_fraction,
                          limit=limit, since=since)

    def prepared(self, entries: list[dict[str, Any]]) -> list[QueueEntry]:
        """Return the open entries prepared, reusing the preparation of every entry object seen on the last call."""
        known, kept = self._prepared, {}
        items = []
        for entry in entries:
            if entry.get("status") == Status.CLOSED:
                continue
            item = known.get(id(entry))
            if item is None:
                item = QueueEntry(entry, self.timeline)
            kept[id(entry)] = item
            items.append(item)
        self._prepared = kept
        return items
