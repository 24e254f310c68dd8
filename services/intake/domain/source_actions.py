"""What a monitoring source does to its ticket: resolve, reopen, acknowledge, add to it (pure).

The source is the ticket's reporter, so it moves the ticket as the transition table lets a
reporter or one of our services move it. Every update is guarded on the status and on the source
state the ticket last recorded, so applying the same source change twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain.actions import TicketUpdate, move
from services.intake.domain.lifecycle import Mover
from shared.contracts import FINISHED_STATUSES, Status
from shared.contracts.lifecycle_events import Actor, TicketResolved

FIRING, RESOLVED, ACKNOWLEDGED, TRIGGERED = "firing", "resolved", "acknowledged", "triggered"
OPEN_SOURCE_STATES = frozenset({FIRING, TRIGGERED, ACKNOWLEDGED})


class SourceUpdate(TicketUpdate):
    """A ticket update caused by its source: also guarded on the source state the ticket recorded."""

    @property
    def condition(self) -> dict[str, Any]:
        """Return the status and recorded source state the ticket must still have."""
        return {"status": self.ticket["status"], "source.state": recorded_state(self.ticket)}


def recorded_state(ticket: dict[str, Any]) -> str | None:
    """Return the source state the ticket last recorded (None for a ticket without a source)."""
    source = ticket.get("source")
    return source.get("state") if isinstance(source, dict) else None


def ended_at(ticket: dict[str, Any]) -> datetime | None:
    """Return when a finished ticket was resolved or closed (None if it is not finished)."""
    if ticket.get("status") not in FINISHED_STATUSES:
        return None
    return ticket.get("resolved_at") or ticket.get("closed_at") or ticket.get("updated_at")


def resolve_by_source(update: SourceUpdate, actor: Actor, detail: str, *, resolve: bool) -> None:
    """Record that the source resolved everything; with resolve, move the ticket to Resolved if the table allows.

    Open goes through In Progress (a service may make both moves); a ticket waiting for the reporter's
    information, or already finished, only gets the note.
    """
    update.fields["source.state"] = RESOLVED
    update.fields["source.resolved_at"] = update.now
    status = Status(update.current("status"))
    movable = status in (Status.OPEN, Status.IN_PROGRESS, Status.ON_HOLD)
    if not resolve or not movable:
        why = "" if resolve else " (this integration leaves resolving to support)"
        update.note(actor, "source_resolved", detail + why, internal=True)
        return
    if status is Status.OPEN:
        move(update, actor, Status.IN_PROGRESS, "resolved by source", mover=Mover.SYSTEM)
    update.fields["resolution"] = {"proposed_solution": detail, "by": actor.name}
    move(update, actor, Status.RESOLVED, "resolved by source", mover=Mover.SYSTEM)
    update.note(actor, "resolved", detail)
    update.emit(TicketResolved, actor, proposed_solution=detail)


def reopen_by_source(update: SourceUpdate, actor: Actor, detail: str) -> None:
    """Move a Resolved ticket back to In Progress as its reporter may (the source reports the problem again)."""
    update.fields["source.state"] = FIRING
    if Status(update.current("status")) is Status.RESOLVED:
        move(update, actor, Status.IN_PROGRESS, detail, mover=Mover.REPORTER)
    else:
        update.note(actor, "source_firing", detail, internal=True)


def acknowledge_by_source(update: SourceUpdate, actor: Actor, detail: str) -> None:
    """Record the source's acknowledgement; an Open ticket moves to In Progress.

    It is not support's first response (that stops the response clock and the page repeats): only a
    person acknowledging the ticket here is.
    """
    update.fields["source.state"] = ACKNOWLEDGED
    update.note(actor, "source_acknowledged", detail)
    if Status(update.current("status")) is Status.OPEN:
        move(update, actor, Status.IN_PROGRESS, "acknowledged at the source", mover=Mover.SYSTEM)


def fire_again(update: SourceUpdate, actor: Actor, detail: str, state: str) -> None:
    """Record that an open ticket's source fires again after it had resolved."""
    update.fields["source.state"] = state
    update.note(actor, "source_firing", detail, internal=True)


def note_repeats(update: SourceUpdate, actor: Actor, count: int, latest: str) -> None:
    """Record on the ticket how many events the source sent for it so far (an internal note)."""
    update.fields["source.events"] = count
    update.note(actor, "source_repeated", f"{count} events from the source so far; latest: {latest}", internal=True)
