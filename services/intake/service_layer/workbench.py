"""The support console's use cases: an agent's action on what they saw, and one action on many tickets.

An action from the ticket workbench carries the timeline position the agent's page showed. It is
applied only if nobody changed the ticket in a way that matters since then; otherwise the agent
gets the changes (ChangedMeanwhile) and nothing is applied. The check and the write are one guarded
write (the ticket must still be at the position that was checked), so two agents acting at once
cannot both act on the same picture: the second is told what the first did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import ActionRefused, TicketUpdate
from services.intake.domain.conflicts import conflicting_changes
from services.intake.domain.lifecycle import IllegalTransition
from services.intake.domain.principals import Principal
from services.intake.service_layer.commands import (
    RETRIES,
    ConcurrentChange,
    NotVisible,
    actor_of,
    perform,
    perform_retrying,
    visible_ticket,
)
from shared.clock import Clock
from shared.contracts.lifecycle_events import Actor

MAX_BULK = 100
"""Tickets one bulk action may change."""

Decide = Callable[[dict[str, Any], Actor, datetime], TicketUpdate]


class ChangedMeanwhile(Exception):
    """The ticket changed since the agent saw it; `changes` are the timeline entries that did it, `ticket` is now."""

    def __init__(self, ticket: dict[str, Any], changes: list[dict[str, Any]]) -> None:
        who = ", ".join(dict.fromkeys(str(c.get("actor", {}).get("name", "someone")) for c in changes))
        super().__init__(f"{ticket['number']} was changed by {who} after you opened it; nothing was applied")
        self.ticket = ticket
        self.changes = changes


def at_position(ticket: dict[str, Any]) -> dict[str, Any]:
    """Return the guard that the ticket's timeline is still where it was read (no write in between)."""
    seq = ticket.get("timeline_seq")
    return {"timeline_seq": seq} if seq is not None else {"timeline_seq": {"$exists": False}}


async def act_as_seen(number: str, caller: Principal, decide: Decide, seen_seq: int | None, *, tickets: Tickets,
                      clock: Clock) -> dict[str, Any]:
    """Apply an action decided on the ticket as the caller saw it (timeline position seen_seq); return the ticket.

    Raises ChangedMeanwhile if a change that matters came after seen_seq, NotVisible, ActionRefused,
    IllegalTransition, or ConcurrentChange if routine writes kept racing this one.
    """
    actor = actor_of(caller)
    for _ in range(RETRIES):
        ticket = await visible_ticket(number, caller, tickets=tickets)
        changes = conflicting_changes(ticket, seen_seq)
        if changes:
            raise ChangedMeanwhile(ticket, changes)
        update = decide(ticket, actor, clock.now())
        update.guard.update(at_position(ticket))
        try:
            return await perform(update, tickets=tickets)
        except ConcurrentChange:
            continue  # written in between: look again at what it was
    raise ConcurrentChange(f"ticket {number} kept changing; reload it and try again")


@dataclass(frozen=True)
class BulkOutcome:
    """What one bulk action did to one ticket: done, skipped (already so) or refused, and why."""

    number: str
    outcome: str
    message: str


class AlreadyDone(Exception):
    """The ticket is already as the bulk action would make it (assigned to that person, in that status)."""


async def act_on_many(numbers: list[str], caller: Principal, decide: Decide, *, tickets: Tickets, clock: Clock,
                      once_key: str | None = None) -> list[BulkOutcome]:
    """Apply one action to each ticket (decided on its current state); return what happened to each.

    A ticket already in the wanted state is skipped, so sending the same bulk form twice changes nothing
    the second time; with `once_key`, an action that is not a state (a note) is applied once per key.
    """
    if len(numbers) > MAX_BULK:
        raise ActionRefused(f"a bulk action changes at most {MAX_BULK} tickets; select fewer")
    actor = actor_of(caller)
    outcomes = []
    for number in dict.fromkeys(numbers):
        try:
            ticket = await visible_ticket(number, caller, tickets=tickets)
            await perform_retrying(ticket, lambda current, now: decide(current, actor, now), tickets=tickets,
                                   clock=clock, once_key=once_key)
            outcomes.append(BulkOutcome(number, "done", "done"))
        except AlreadyDone as exc:
            outcomes.append(BulkOutcome(number, "skipped", str(exc)))
        except (ActionRefused, IllegalTransition, NotVisible, ConcurrentChange, LookupError) as exc:
            outcomes.append(BulkOutcome(number, "refused", str(exc)))
    return outcomes
