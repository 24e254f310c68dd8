"""Hand-off notices: when someone's shift starts, owe `oncall.shift_started` (intake adds the open work).

Each pass looks at the shift starts in (cursor, now], at most MAX_CATCH_UP back (a notice hours late is
noise), records one notice per (schedule, person, start) and moves the cursor. A shift start is a shift
whose start lies strictly inside the window: a shift already running at the window's start is not new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from services.escalation.adapters.oncall_handoffs import COLLECTION, HandoffRecords
from services.escalation.domain.oncall import shifts
from services.escalation.domain.oncall.config import OnCallConfig
from services.escalation.domain.oncall_pages import paged_person
from services.escalation.service_layer.clock_updates import OnCallSource
from shared.clock import Clock
from shared.contracts import make_envelope
from shared.contracts.oncall_events import OnCallShiftStarted

MAX_CATCH_UP = timedelta(hours=1)
PRODUCER = "escalation"


def starts(config: OnCallConfig, after: datetime, until: datetime) -> list[tuple[str, str, OnCallShiftStarted]]:
    """Return (notice id, schedule id, event) of every shift starting in (after, until], in time order."""
    found = []
    for schedule_id in sorted(config.schedules):
        schedule = config.effective(schedule_id)
        for shift in shifts(schedule, after, until + timedelta(microseconds=1)):
            if shift.start <= after or shift.person not in config.people:
                continue
            event = OnCallShiftStarted(team=schedule.team, schedule_id=schedule_id,
                                       person=paged_person(config.people[shift.person]),
                                       start=shift.start, end=shift.end)
            found.append((f"{schedule_id}|{shift.person}|{shift.start.isoformat()}", schedule_id, event))
    return sorted(found, key=lambda item: (item[2].start, item[0]))


@dataclass
class HandoffNotices:
    """Looks for shift starts and records a notice for each, once."""

    oncall: OnCallSource
    records: HandoffRecords
    clock: Clock
    on_outbox: Callable[[str, str, dict], None] = lambda collection, notice_id, document: None

    async def run_once(self) -> int:
        """Record the notices of shifts started since the last pass; return how many were new."""
        now = self.clock.now()
        cursor = await self.records.cursor()
        config = await self.oncall.current()
        if cursor is None or config is None:
            await self.records.move_cursor(cursor, now)
            return 0
        recorded = 0
        for notice_id, _, event in starts(config, max(cursor, now - MAX_CATCH_UP), now):
            envelope = make_envelope(event, producer=PRODUCER, occurred_at=now).to_document()
            document = await self.records.record(notice_id, envelope, now)
            if document is not None:
                recorded += 1
                self.on_outbox(COLLECTION, notice_id, document)
        await self.records.move_cursor(cursor, now)
        return recorded
