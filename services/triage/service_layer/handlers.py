"""Triage's message handlers: each takes the event and keyword-only dependencies."""

from __future__ import annotations

from datetime import datetime

from services.triage.adapters.fingerprints import (
    FingerprintGroups,
    Member,
    Registration,
)
from services.triage.adapters.triage_records import (
    TriageRecords,
    report_from_document,
    report_to_document,
)
from services.triage.domain.classification import Report, classify, is_more_severe
from services.triage.domain.duplicates import fingerprint, users_counted
from services.triage.domain.policy import TriagePolicy
from services.triage.service_layer.reclassify import SeverityChangeRequest, reclassify
from shared.clock import Clock
from shared.contracts import (
    Envelope,
    Severity,
    TicketReported,
    TicketTriaged,
    make_envelope,
)
from shared.contracts.lifecycle_events import TicketSeverityChanged
from shared.contracts.triage_events import TicketDuplicateDetected

PRODUCER = "triage"


def report_from_event(event: TicketReported) -> Report:
    """Return what triage judges in a reported ticket."""
    return Report(
        kind=event.kind,
        type=event.type,
        title=event.title,
        description=event.description,
        reported_severity=event.reported_severity,
        users_affected=event.users_affected,
        production=event.production,
        workaround_available=event.workaround_available,
        component=event.component,
        severity_pinned=event.severity_pinned,
    )


async def triage_reported_ticket(
    envelope: Envelope,
    event: TicketReported,
    *,
    policy: TriagePolicy,
    records: TriageRecords,
    groups: FingerprintGroups,
    clock: Clock,
) -> list[Envelope]:
    """Store triage's record of a reported ticket with the events it owes: ticket.triaged, and for a duplicate
    ticket.duplicate_detected (and the primary's growth ticket.reclassified, stored with the primary's record).

    Once per ticket: the record's `_id` is the ticket's, so a redelivery finds it and only republishes
    what it still owes. Returns no events (they are in the records' outboxes).
    """
    report = report_from_event(event)
    decision = classify(report, policy.rulebook)
    start = event.reported_at
    deadlines = policy.sla.deadlines(decision.severity, start)
    allowances = policy.sla.allowances[decision.severity]
    now = clock.now()
    triaged = TicketTriaged(
        ticket_id=event.ticket_id,
        number=event.number,
        title=event.title,
        reported_severity=event.reported_severity,
        severity=decision.severity,
        rule=decision.rule,
        reason=decision.reason,
        tier=decision.tier,
        team=decision.team,
        reported_at=start,
        acknowledge_due_at=deadlines.acknowledge_due_at,
        response_due_at=deadlines.response_due_at,
        resolution_due_at=deadlines.resolution_due_at,
        response_target=allowances.response.describe(),
        reporter=event.reporter,
        type=event.type,
        production=event.production,
        component=event.component,
        description=event.description[:2000],
    )
    owed = [_envelope(triaged, envelope, now, event.ticket_id)]
    registration = await groups.register(
        fingerprint(event.type, event.component, event.title),
        Member(event.ticket_id, event.number, start, users_counted(event.users_affected),
               reporter_id=event.reporter.id, verified=event.reporter.verified is not False),
        policy.duplicate_window,
    )
    if not registration.is_primary:
        owed += await _report_duplicate(envelope, event, registration, policy=policy, records=records, now=now)
    stored = await records.record(
        event.ticket_id,
        {
            "number": event.number,
            "title": event.title,
            "report": report_to_document(report),
            "reported_at": start,
            "severity": decision.severity.value,
            "rule": decision.rule,
            "reason": decision.reason,
            "tier": decision.tier,
            "team": decision.team,
            "route": decision.route,
            "deadlines": vars(deadlines),
            "overridden": False,
            "paused_seconds": 0.0,
            "triaged_at": now,
            "updated_at": now,
        },
        [e.to_document() for e in owed],
    )
    if not stored:  # a redelivery: the record was stored before, with everything it owes
        await records.republish(event.ticket_id)
    return []


async def _report_duplicate(
    envelope: Envelope, event: TicketReported, registration: Registration, *, policy: TriagePolicy,
    records: TriageRecords, now: datetime,
) -> list[Envelope]:
    """Return ticket.duplicate_detected; a growth that raises the primary is stored (with its event) in the primary's record."""
    group = registration.group
    detected = TicketDuplicateDetected(
        primary_ticket_id=group.primary_ticket_id,
        primary_number=group.primary_number,
        duplicate_ticket_id=event.ticket_id,
        duplicate_number=event.number,
        duplicate_title=event.title,
        fingerprint=group.fingerprint,
        reports=group.reports,
        users_affected=group.users_affected,
        primary_reported_at=group.opened_at,
        duplicate_reported_at=event.reported_at,
        detected_at=now,
    )
    owed = [_envelope(detected, envelope, now, group.primary_ticket_id)]
    primary = await records.get(group.primary_ticket_id)
    if primary is None or primary.get("overridden"):
        return owed  # an agent's override wins over growth; an unknown primary has nothing to raise
    grown = classify(report_from_document(primary["report"]).with_users_affected(group.users_affected), policy.rulebook)
    if not is_more_severe(grown.severity, Severity(primary["severity"])):
        return owed
    request = SeverityChangeRequest(
        severity=grown.severity,
        rule=grown.rule,
        reason=f"{group.reports} reports of the same problem, {group.users_affected} users affected in total: {grown.reason}",
        trigger="growth",
        changed_at=now,
        users_affected=group.users_affected,
    )
    await reclassify(group.primary_ticket_id, request, policy=policy, records=records, now=now,
                     correlation_id=envelope.correlation_id)
    return owed


async def apply_severity_override(
    envelope: Envelope, event: TicketSeverityChanged, *, policy: TriagePolicy, records: TriageRecords, clock: Clock
) -> list[Envelope]:
    """Store an agent's override and its ticket.reclassified (with the new due times) in triage's record."""
    now = clock.now()
    request = SeverityChangeRequest(
        severity=event.new_severity,
        rule="agent-override" if event.source == "agent" else "priority-bump",
        reason=f"{event.actor.name}: {event.reason}",
        trigger=event.source,
        changed_at=event.at,
        paused=None,
        actor=event.actor,
        override=True,
    )
    await reclassify(event.ticket_id, request, policy=policy, records=records, now=now,
                     correlation_id=envelope.correlation_id)
    return []


def _envelope(payload, incoming: Envelope, now: datetime, ticket_id: str) -> Envelope:
    """Return an envelope for an emitted event, keeping the incoming correlation id."""
    return make_envelope(
        payload, producer=PRODUCER, occurred_at=now, ticket_id=ticket_id, correlation_id=incoming.correlation_id
    )
