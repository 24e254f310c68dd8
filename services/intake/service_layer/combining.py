"""Events of one ticket that queued up together, applied in one write: intake's Combiner (shared/messaging/consumer.py).

Each event's own handler runs, against a stand-in store that keeps the change it would write;
the changes are then written as one (MongoTickets.change_many). Anything a handler does besides
one unconditional change of its own ticket makes the batch NotCombinable, and the consumer then
handles each event on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from services.intake.adapters.combined_changes import Change, Entries, Fields, NotCombinable
from services.intake.adapters.tickets import Tickets
from shared.contracts import Envelope
from shared.messaging.consumer import Handler

COMBINABLE = frozenset({"ticket.triaged", "sla.clock_changed", "notification.delivered", "notification.failed"})
"""Events whose handlers change only their own ticket, once per event, whatever it holds, and count nothing
(sla.measured counts an outcome once stored, so it is handled on its own)."""


class RecordingTickets:
    """Stands in for the store while a combined event's handler runs: keeps its change instead of writing it."""

    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        self.changes: list[Change] = []

    async def change(self, ticket_id: str, condition: dict[str, Any], fields: Fields, entries: Entries,
                     events: list[dict[str, Any]], *, event_id: str | None = None) -> bool:
        """Keep the change; True, as the write it stands for is made (or nothing is) with the others."""
        if ticket_id != self.ticket_id or condition or events or event_id is None:
            raise NotCombinable("a handler's change is conditional, owes events or is about another ticket")
        self.changes.append(Change(fields, entries, event_id))
        return True

    def __getattr__(self, name: str) -> Any:
        raise NotCombinable(f"a handler uses tickets.{name}")


class TicketEventCombiner:
    """Applies several events of one ticket with their own handlers, in one write of the ticket."""

    def __init__(self, tickets: Tickets, handlers_for: Callable[[Any], dict[str, Handler]]) -> None:
        self._tickets = tickets
        self._handlers_for = handlers_for

    def accepts(self, envelope: Envelope) -> bool:
        """Return True for the events whose handlers may be combined."""
        return envelope.event_type in COMBINABLE

    async def apply(self, events: list[tuple[Envelope, BaseModel]]) -> None:
        """Apply the events in order in one write; raise NotCombinable (nothing written) when they cannot be."""
        ticket_id = events[0][0].ticket_id
        if ticket_id is None:
            raise NotCombinable("an event without a ticket")
        recorder = RecordingTickets(ticket_id)
        handlers = self._handlers_for(recorder)
        for envelope, payload in events:
            if envelope.ticket_id != ticket_id or not self.accepts(envelope):
                raise NotCombinable(f"{envelope.event_type} of {envelope.ticket_id} cannot join {ticket_id}'s")
            if await handlers[envelope.event_type](envelope, payload):
                raise NotCombinable(f"{envelope.event_type}'s handler emitted events")
        await self._tickets.change_many(ticket_id, recorder.changes)
