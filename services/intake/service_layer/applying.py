"""How intake applies another service's event to a ticket: at most once per event, or dead-lettered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.intake.adapters.tickets import Entries, Fields, Tickets
from services.intake.service_layer.commands import ConcurrentChange, Decide, perform
from shared.clock import Clock
from shared.contracts import Envelope
from shared.messaging.consumer import PermanentError

ATTEMPTS = 5


def ticket_id_of(envelope: Envelope) -> str:
    """Return the ticket an event is about; an event without one is a permanent error."""
    if envelope.ticket_id is None:
        raise PermanentError(f"{envelope.event_type} carries no ticket_id")
    return envelope.ticket_id


async def current_ticket(tickets: Tickets, ticket_id: str) -> dict[str, Any]:
    """Return the ticket; one that does not exist is a permanent error (the message is dead-lettered)."""
    ticket = await tickets.get(ticket_id)
    if ticket is None:
        raise PermanentError(f"ticket {ticket_id} does not exist")
    return ticket


Entry = dict[str, Any] | None | Callable[[dict[str, Any]], dict[str, Any] | None]
"""A timeline entry (or none), or a function computing it from the current ticket."""


async def apply_event(tickets: Tickets, envelope: Envelope, fields: Fields, entry: Entry, *,
                      ticket_id: str | None = None, condition: dict[str, Any] | None = None) -> bool:
    """Set fields and add the timeline entry (if any) once per event; return True if this call wrote it.

    fields and entry may be functions of the current ticket (computed inside the guarded write). A
    missing ticket is a permanent error (the message is dead-lettered).
    """
    if callable(entry):
        compute = entry
        entries: Entries = lambda ticket: [found] if (found := compute(ticket)) else []  # noqa: E731
    else:
        entries = [entry] if entry else []
    try:
        return await tickets.change(ticket_id or ticket_id_of(envelope), condition or {}, fields, entries, [],
                                    event_id=envelope.event_id)
    except LookupError as exc:
        raise PermanentError(str(exc)) from exc


async def perform_once(tickets: Tickets, envelope: Envelope, decide: Decide, clock: Clock) -> None:
    """Store the update decide(ticket, now) describes once per event, guarded on the state it was decided on."""
    ticket_id = ticket_id_of(envelope)
    for _ in range(ATTEMPTS):
        ticket = await current_ticket(tickets, ticket_id)
        if await tickets.applied(ticket_id, envelope.event_id):
            await tickets.reproject(ticket_id)  # a redelivery: finish the views a crash may have cut short
            return
        try:
            await perform(decide(ticket, clock.now()), tickets=tickets, event_id=envelope.event_id,
                          correlation_id=envelope.correlation_id)
            return
        except ConcurrentChange:
            continue
    raise RuntimeError(f"ticket {ticket_id} kept changing while {envelope.event_type} was applied")
