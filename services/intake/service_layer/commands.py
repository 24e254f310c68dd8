"""Intake's use cases, shared by the HTTP API, the web pages and e-mail intake: report, and act on a ticket."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import ActionRefused, TicketUpdate
from services.intake.domain.principals import Principal
from services.intake.domain.tickets import new_ticket_document
from shared.clock import Clock
from shared.contracts import Reporter, TicketReported, format_number, make_envelope
from shared.contracts.lifecycle_events import Actor
from shared.ids import new_id

PRODUCER = "intake"
NUMBER_ATTEMPTS = 5
RETRIES = 5

Decide = Callable[[dict[str, Any], datetime], TicketUpdate]
"""Given the current ticket and the time, the update an action makes (built again on a retry)."""
DecideAsync = Callable[[dict[str, Any], datetime], TicketUpdate | Awaitable[TicketUpdate]]
"""A Decide that may need to read something first (it may return an awaitable)."""


class ConcurrentChange(Exception):
    """The ticket changed between reading it and applying an action; the caller may retry."""


class NotVisible(LookupError):
    """No such ticket, or one this caller may not see (both look the same, so numbers leak nothing)."""


def actor_of(principal: Principal) -> Actor:
    """Return the timeline/event actor for an authenticated caller."""
    return Actor(type=principal.role.value, id=principal.id, name=principal.name)


async def visible_ticket(number: str, caller: Principal, *, tickets: Tickets) -> dict[str, Any]:
    """Return the ticket with this number if the caller may see it; raise NotVisible otherwise."""
    document = await tickets.by_number(number)
    if document is None or not caller.may_see(document):
        raise NotVisible(f"no ticket {number} is visible to you")
    return document


async def act(number: str, caller: Principal, decide: Callable[[dict[str, Any], Actor, datetime], TicketUpdate], *,
              tickets: Tickets, clock: Clock) -> dict[str, Any]:
    """Load a ticket the caller may see, let the domain decide the update, store it with its events; return it.

    Raises NotVisible, IllegalTransition, ActionRefused or ConcurrentChange (the ticket changed since it was read).
    """
    ticket = await visible_ticket(number, caller, tickets=tickets)
    return await perform(decide(ticket, actor_of(caller), clock.now()), tickets=tickets)


async def report_as(caller: Principal, fields: dict[str, Any], *, tickets: Tickets, clock: Clock,
                    prefix: str) -> dict[str, Any]:
    """Store a ticket reported by this caller (vendors may not report: ActionRefused); return the document."""
    if not caller.may_report:
        raise ActionRefused("only reporters and support staff open tickets; vendor keys act only on the tickets "
                            "handed to their vendor")
    return await report_ticket(fields, caller.as_reporter(), tickets=tickets, clock=clock, prefix=prefix)


async def report_ticket(
    fields: dict[str, Any], reporter: dict[str, Any], *, tickets: Tickets, clock: Clock, prefix: str,
    correlation_id: str | None = None, ticket_id: str | None = None, notes: Sequence[str] = (),
    claimed: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Store a new ticket with its ticket.reported event in the outbox; return the stored document.

    `ticket_id` (default: a new one) lets a caller that must not open two tickets for one report
    choose the id beforehand; `notes` are public timeline entries by intake after the report.
    `claimed`: a (ticket id, number) reserved beforehand (an integration's alert group claims them before the
    ticket exists): then the ticket is stored once whoever calls, and a call that finds it returns it.
    """
    now = clock.now()
    ticket_id = claimed[0] if claimed else ticket_id or new_id()
    if claimed and (existing := await tickets.get(ticket_id)) is not None:
        return existing
    for attempt in range(NUMBER_ATTEMPTS):
        number = claimed[1] if claimed else format_number(prefix, await tickets.next_sequence())
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
            severity_pinned=bool(fields.get("severity_pinned")),
            reporter=Reporter(**reporter),
            reported_at=now,
        )
        envelope = make_envelope(reported, producer=PRODUCER, occurred_at=now, ticket_id=ticket_id,
                                 correlation_id=correlation_id)
        document = new_ticket_document(ticket_id=ticket_id, number=number, fields=fields, reporter=reporter,
                                       now=now, outbox=[envelope.to_document()], notes=notes)
        try:
            await tickets.insert(document)
            return document
        except DuplicateKeyError:
            if claimed and (existing := await tickets.get(ticket_id)) is not None:
                return existing  # a concurrent call with the same claim stored it first
            if claimed or attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def perform(update: TicketUpdate, *, tickets: Tickets, event_id: str | None = None,
                  correlation_id: str | None = None) -> dict[str, Any]:
    """Store an update with its events; return the updated ticket or raise ConcurrentChange.

    With an event_id (an update caused by another service's event) it is applied at most once per event.
    """
    ticket = update.ticket
    envelopes = [
        make_envelope(event, producer=PRODUCER, occurred_at=update.now, ticket_id=ticket["_id"],
                      correlation_id=correlation_id).to_document()
        for event in update.events
    ]
    fields = {**update.fields, "updated_at": update.now}
    if not await tickets.change(ticket["_id"], update.condition, fields, update.entries, envelopes, event_id=event_id):
        raise ConcurrentChange(f"ticket {ticket['number']} changed while this action was applied; retry")
    updated = await tickets.get(ticket["_id"])
    assert updated is not None
    return updated


async def perform_retrying(ticket: dict[str, Any], decide: DecideAsync, *, tickets: Tickets,
                           clock: Clock, once_key: str | None = None) -> dict[str, Any]:
    """Store decide(ticket, now), deciding again on the fresh ticket after a concurrent change; return the ticket.

    For updates that do not depend on what the person saw (a system note, an attachment, a vote).
    With `once_key` the update is applied at most once per key (a retried e-mail comments once).
    Raises ConcurrentChange if the ticket kept changing.
    """
    for _ in range(RETRIES):
        try:
            update = decide(ticket, clock.now())
            if inspect.isawaitable(update):
                update = await update
            return await perform(update, tickets=tickets, event_id=once_key)
        except ConcurrentChange:
            fresh = await tickets.get(ticket["_id"])
            if fresh is None:
                raise LookupError(f"ticket {ticket['_id']} does not exist") from None
            if once_key is not None and await tickets.applied(ticket["_id"], once_key):
                return fresh
            ticket = fresh
    raise ConcurrentChange(f"ticket {ticket['number']} kept changing; retry")
