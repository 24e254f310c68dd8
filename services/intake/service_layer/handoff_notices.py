"""Hand-off notices: when someone's on-call shift starts, tell them what their team has open and at risk.

Escalation announces the shift (`oncall.shift_started`); intake, which keeps the open work, reads its
64 open-work documents by `_id` (as the gauges do), picks the team's tickets, overdue and at risk first,
and owes `oncall.handoff_notice` for the notifier. The notice is a document of its own, inserted once
per announcing event with its event in the outbox, so a redelivered announcement sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Protocol

from services.intake.adapters.handoff_notices import COLLECTION
from services.intake.adapters.views import MongoViews
from services.intake.domain.work_in_flight import clock_standing
from shared.clock import Clock
from shared.contracts import OPEN_STATUSES, Envelope, make_envelope
from shared.contracts.oncall_events import (
    HANDOFF_TICKETS_LISTED,
    HandoffTicket,
    OnCallHandoffNotice,
    OnCallShiftStarted,
)
from shared.sla.calendar import BusinessCalendar

PRODUCER = "intake"
STANDING_ORDER = {"overdue": 0, "at_risk": 1, "on_track": 2}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class HandoffNoticeRecords(Protocol):
    """Where intake records a notice once, with its event owed."""

    async def record(self, notice_id: str, envelope: dict[str, Any], now: datetime) -> dict[str, Any] | None: ...


def standing(entry: dict[str, Any], now: datetime, calendar: BusinessCalendar, at_risk: float) -> str:
    """Return overdue, at_risk or on_track for an open ticket, from its response and resolution clocks."""
    found = [clock_standing(entry, target, now, calendar, at_risk) for target in ("response", "resolution")]
    return "overdue" if "overdue" in found else "at_risk" if "at_risk" in found else "on_track"


def notice_for(event: OnCallShiftStarted, entries: list[dict[str, Any]], now: datetime, calendar: BusinessCalendar,
               at_risk: float) -> OnCallHandoffNotice:
    """Return the notice of a shift start: the team's open tickets, overdue first, then at risk, by severity."""
    mine = [e for e in entries if e.get("team") == event.team and e.get("status") in OPEN_STATUSES]
    rated = sorted(((standing(e, now, calendar, at_risk), e) for e in mine),
                   key=lambda item: (STANDING_ORDER[item[0]], SEVERITY_ORDER.get(item[1].get("severity") or "", 9),
                                     item[1]["number"]))
    tickets = [HandoffTicket(number=e["number"], title=e["title"][:200], severity=e.get("severity"), status=e["status"],
                             standing=s) for s, e in rated[:HANDOFF_TICKETS_LISTED]]
    count = {name: sum(1 for s, _ in rated if s == name) for name in ("overdue", "at_risk")}
    return OnCallHandoffNotice(**event.model_dump(), open_count=len(rated), at_risk_count=count["at_risk"],
                               overdue_count=count["overdue"], tickets=tickets)


async def prepare_notice(envelope: Envelope, event: OnCallShiftStarted, *, views: MongoViews,
                         notices: HandoffNoticeRecords, clock: Clock, calendar: BusinessCalendar, at_risk: float,
                         on_outbox: Callable[[str, str, dict[str, Any]], None]) -> list[Envelope]:
    """Owe the hand-off notice of a shift start once (a redelivery finds it recorded)."""
    now = clock.now()
    notice = notice_for(event, await views.open_entries(), now, calendar, at_risk)
    outgoing = make_envelope(notice, producer=PRODUCER, occurred_at=now, correlation_id=envelope.correlation_id)
    document = await notices.record(f"handoff:{envelope.event_id}", outgoing.to_document(), now)
    if document is not None:
        on_outbox(COLLECTION, document["_id"], document)
    return []

