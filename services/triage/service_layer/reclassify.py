"""Applies a requested severity change to triage's record and describes it as ticket.reclassified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.triage.adapters.triage_records import TriageRecords, report_from_document
from services.triage.domain.classification import route
from services.triage.domain.policy import TriagePolicy
from shared.contracts import Severity, make_envelope
from shared.contracts.triage_events import (
    Actor,
    ReclassificationTrigger,
    TicketReclassified,
)
from shared.documents import LostRace
from shared.sla.policy import Deadlines
from shared.sla.reschedule import reschedule

ATTEMPTS = 5
PRODUCER = "triage"


@dataclass(frozen=True)
class SeverityChangeRequest:
    """A requested severity change: what, why, who, when; `override` marks an agent's decision."""

    severity: Severity
    rule: str
    reason: str
    trigger: ReclassificationTrigger
    changed_at: datetime
    paused: timedelta | None = None
    actor: Actor | None = None
    users_affected: int | None = None
    override: bool = False


async def reclassify(
    ticket_id: str, request: SeverityChangeRequest, *, policy: TriagePolicy, records: TriageRecords, now: datetime,
    correlation_id: str | None = None,
) -> TicketReclassified | None:
    """Store the change with its ticket.reclassified in the record's outbox and return the event.

    None if the severity is already the requested one (a repeat changes nothing). Raises LookupError
    if triage has no record of the ticket (yet), so the message is retried.
    """
    for _ in range(ATTEMPTS):
        record = await records.get(ticket_id)
        if record is None:
            raise LookupError(f"triage has no record of ticket {ticket_id}")
        old_severity = Severity(record["severity"])
        if request.severity is old_severity and (record.get("overridden") or not request.override):
            return None
        event, fields = _planned(record, request, policy, now)
        entry = {"at": request.changed_at, "from": old_severity.value, "to": request.severity.value,
                 "trigger": request.trigger, "rule": request.rule, "recorded_at": now}
        owed = [] if request.severity is old_severity else [
            make_envelope(event, producer=PRODUCER, occurred_at=now, ticket_id=ticket_id,
                          correlation_id=correlation_id).to_document()]
        if await records.change_severity(ticket_id, old_severity.value, fields, entry, owed):
            return None if request.severity is old_severity else event
    raise LostRace(f"triage record of {ticket_id} kept changing during a reclassification")


def _planned(record: dict, request: SeverityChangeRequest, policy: TriagePolicy,
             now: datetime) -> tuple[TicketReclassified, dict]:
    """Return the event and the record fields for applying `request` to a stored record."""
    old_severity = Severity(record["severity"])
    started_at: datetime = record["reported_at"]
    changed_at = max(request.changed_at, started_at)
    paused = request.paused if request.paused is not None else timedelta(seconds=record.get("paused_seconds", 0.0))
    old = Deadlines(**record["deadlines"])
    moved = reschedule(policy.sla, request.severity, started_at=started_at, changed_at=changed_at, paused=paused,
                       old=old)
    decision = route(report_from_document(record["report"]), policy.rulebook, request.severity, request.rule,
                     request.reason)
    allowances = policy.sla.allowances[request.severity]
    event = TicketReclassified(
        ticket_id=record["_id"],
        number=record["number"],
        old_severity=old_severity,
        severity=request.severity,
        trigger=request.trigger,
        escalation_trigger=request.severity.level < old_severity.level,  # "severity increases during investigation"
        rule=request.rule,
        reason=request.reason,
        old_tier=record["tier"],
        tier=decision.tier,
        old_team=record["team"],
        team=decision.team,
        changed_at=changed_at,
        old_response_due_at=old.response_due_at,
        response_due_at=moved.new.response_due_at,
        old_resolution_due_at=old.resolution_due_at,
        resolution_due_at=moved.new.resolution_due_at,
        response_target=allowances.response.describe(),
        resolution_target=allowances.resolution.describe(),
        spent_seconds=moved.spent.total_seconds(),
        paused_seconds=moved.paused.total_seconds(),
        users_affected=request.users_affected,
        actor=request.actor,
    )
    fields = {
        "severity": request.severity.value,
        "rule": request.rule,
        "reason": request.reason,
        "tier": decision.tier,
        "team": decision.team,
        "route": decision.route,
        "deadlines": vars(moved.new),
        "paused_seconds": moved.paused.total_seconds(),
        "overridden": bool(record.get("overridden")) or request.override,
        "updated_at": now,
    }
    return event, fields
