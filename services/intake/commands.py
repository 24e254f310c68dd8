"""Intake's application commands, shared by the HTTP API and e-mail intake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.clock import Clock
from shared.contracts import Reporter, TicketReported, make_envelope
from shared.ids import new_id
from services.intake.adapters.tickets import MongoTickets
from services.intake.domain.actions import Change
from services.intake.domain.sla import SlaOutcome, outcome_fields, outcome_guard, sla_outcomes
from services.intake.domain.tickets import format_number, new_ticket_document

PRODUCER = "intake"
NUMBER_ATTEMPTS = 5

SlaObserver = Callable[[list[SlaOutcome]], None]
"""Told the SLA outcomes a change measured, after the change is stored (see adapters/sla_metrics.py)."""


class ConcurrentChange(Exception):
    """The ticket changed between reading it and applying an action; the caller may retry."""


async def report_ticket(
    fields: dict[str, Any], reporter: dict[str, Any], *, tickets: MongoTickets, clock: Clock, prefix: str,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Store a new ticket with its ticket.reported event in the outbox; return the stored document."""
    now = clock.now()
    ticket_id = new_id()
    for attempt in range(NUMBER_ATTEMPTS):
        number = format_number(prefix, await tickets.next_sequence())
        reported = TicketReported(
            ticket_id=ticket_id,
            number=number,
            kind=fields.get("kind", "incident"),
            title=fields["title"],
            description=fields["description"],
            type=fields["type"],
            reported_severity=fields.get("reported_severity"),
            users_affected=fields.get("users_affected"),
            production=fields.get("production"),
            workaround_available=fields.get("workaround_available"),
            component=fields.get("component"),
            reporter=Reporter(**reporter),
            reported_at=now,
        )
        envelope = make_envelope(reported, producer=PRODUCER, occurred_at=now, ticket_id=ticket_id,
                                 correlation_id=correlation_id)
        document = new_ticket_document(ticket_id=ticket_id, number=number, fields=fields, reporter=reporter,
                                       now=now, outbox=[envelope.to_document()])
        try:
            await tickets.insert(document)
            return document
        except DuplicateKeyError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def perform(change: Change, *, tickets: MongoTickets, observe_sla: SlaObserver | None = None) -> dict[str, Any]:
    """Apply an action's change with its events; return the updated ticket or raise ConcurrentChange.

    A first response or first resolution also stores its SLA outcome in the same write (guarded so
    it is measured once) and, once stored, is passed to observe_sla.
    """
    ticket = change.ticket
    envelopes = [
        make_envelope(event, producer=PRODUCER, occurred_at=change.now, ticket_id=ticket["_id"]).to_document()
        for event in change.events
    ]
    outcomes = sla_outcomes(ticket, change.fields, change.now)
    fields = {**change.fields, **outcome_fields(outcomes), "updated_at": change.now}
    condition = {**change.condition, **outcome_guard(outcomes)}
    if not await tickets.change(ticket["_id"], condition, fields, change.entries, envelopes):
        raise ConcurrentChange(f"ticket {ticket['number']} changed while this action was applied; retry")
    if outcomes and observe_sla is not None:
        observe_sla(outcomes)
    updated = await tickets.get(ticket["_id"])
    assert updated is not None
    return updated
