"""Applies a severity change to triage's record and describes it as ticket.reclassified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import Severity
from shared.contracts.triage_events import Actor, ReclassificationTrigger, TicketReclassified
from shared.documents import LostRace
from services.triage.adapters.decisions import Decisions
from services.triage.domain.classification import route
from services.triage.domain.reclassification import reschedule
from services.triage.domain.policy import TriagePolicy
from services.triage.domain.sla import Deadlines
from services.triage.records import report_from_document

ATTEMPTS = 5


@dataclass(frozen=True)
class Change:
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
    ticket_id: str, change: Change, *, policy: TriagePolicy, decisions: Decisions, now: datetime
) -> TicketReclassified | None:
    """Store the change and return its event; None if the severity is already the requested one.

    Raises LookupError if triage has no record of the ticket (yet), so the message is retried.
    """
    for _ in range(ATTEMPTS):
        record = await decisions.get(ticket_id)
        if record is None:
            raise LookupError(f"triage has no record of ticket {ticket_id}")
        old_severity = Severity(record["severity"])
        if change.severity is old_severity and (record.get("overridden") or not change.override):
            return None
        event, fields = _planned(record, change, policy, now)
        entry = {"at": change.changed_at, "from": old_severity.value, "to": change.severity.value,
                 "trigger": change.trigger, "rule": change.rule, "recorded_at": now}
        if await decisions.change_severity(ticket_id, old_severity.value, fields, entry):
            return None if change.severity is old_severity else event
    raise LostRace(f"triage record of {ticket_id} kept changing during a reclassification")


def _planned(record: dict, change: Change, policy: TriagePolicy, now: datetime) -> tuple[TicketReclassified, dict]:
    """Return the event and the record fields for applying `change` to a stored record."""
    old_severity = Severity(record["severity"])
    started_at: datetime = record["reported_at"]
    changed_at = max(change.changed_at, started_at)
    paused = change.paused if change.paused is not None else timedelta(seconds=record.get("paused_seconds", 0.0))
    old = Deadlines(**record["deadlines"])
    moved = reschedule(
        policy.sla, change.severity, started_at=started_at, changed_at=changed_at, paused=paused, old=old,
        carry_over=policy.carry_over_spent_time,
    )
    decision = route(report_from_document(record["report"]), policy.rulebook, change.severity, change.rule, change.reason)
    targets = policy.sla.targets[change.severity]
    event = TicketReclassified(
        ticket_id=record["_id"],
        number=record["number"],
        old_severity=old_severity,
        severity=change.severity,
        trigger=change.trigger,
        escalation_trigger=change.severity.level < old_severity.level,  # "severity increases during investigation"
        rule=change.rule,
        reason=change.reason,
        old_tier=record["tier"],
        tier=decision.tier,
        old_team=record["team"],
        team=decision.team,
        changed_at=changed_at,
        old_response_due_at=old.response_due_at,
        response_due_at=moved.new.response_due_at,
        old_resolution_due_at=old.resolution_due_at,
        resolution_due_at=moved.new.resolution_due_at,
        response_target=targets.response.describe(),
        resolution_target=targets.resolution.describe(),
        spent_seconds=moved.spent.total_seconds(),
        paused_seconds=moved.paused.total_seconds(),
        users_affected=change.users_affected,
        actor=change.actor,
    )
    fields = {
        "severity": change.severity.value,
        "rule": change.rule,
        "reason": change.reason,
        "tier": decision.tier,
        "team": decision.team,
        "route": decision.route,
        "deadlines": vars(moved.new),
        "paused_seconds": moved.paused.total_seconds(),
        "overridden": bool(record.get("overridden")) or change.override,
        "updated_at": now,
    }
    return event, fields
