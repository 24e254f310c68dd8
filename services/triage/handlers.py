"""Triage's message handlers: each takes the event and keyword-only dependencies."""

from __future__ import annotations

from shared.clock import Clock
from shared.contracts import Envelope, TicketReported, TicketTriaged, make_envelope
from services.triage.domain.classification import Report, classify
from services.triage.domain.sla import ACKNOWLEDGE_WITHIN, SPEC_TARGETS, due_at

PRODUCER = "triage"


async def triage_reported_ticket(envelope: Envelope, event: TicketReported, *, clock: Clock) -> list[Envelope]:
    """Return the ticket.triaged event for a newly reported ticket; targets run from its report time."""
    decision = classify(
        Report(
            kind=event.kind,
            type=event.type,
            title=event.title,
            description=event.description,
            reported_severity=event.reported_severity,
            users_affected=event.users_affected,
            production=event.production,
            workaround_available=event.workaround_available,
        )
    )
    targets = SPEC_TARGETS[decision.severity]
    start = event.reported_at
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
        acknowledge_due_at=start + ACKNOWLEDGE_WITHIN,
        response_due_at=due_at(start, targets.response),
        resolution_due_at=due_at(start, targets.resolution),
        response_target=targets.response.describe(),
        reporter=event.reporter,
    )
    return [
        make_envelope(
            triaged,
            producer=PRODUCER,
            occurred_at=clock.now(),
            ticket_id=envelope.ticket_id,
            correlation_id=envelope.correlation_id,
        )
    ]
