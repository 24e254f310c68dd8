"""Votes on feature requests: one per person, on open requests only; the count lives on the request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import ActionRefused, TicketUpdate
from services.intake.domain.principals import Principal, Role
from services.intake.service_layer.commands import actor_of, perform_retrying
from shared.clock import Clock
from shared.contracts import Status
from shared.contracts.lifecycle_events import TicketVoted


class NoSuchRequest(LookupError):
    """No feature request has this number."""


class VoteRefused(ActionRefused):
    """A vote that cannot be taken; `why` is forbidden (vendors never vote), closed or already_voted."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


async def cast_vote(number: str, voter: Principal, *, tickets: Tickets, votes: Any, clock: Clock) -> dict[str, Any]:
    """Record voter's one vote for an open feature request; return the request with its new count.

    Raises NoSuchRequest, or VoteRefused for vendors, closed requests and a second vote. Who voted is
    kept for support staff only: the request's public timeline shows the count.
    """
    if voter.role is Role.VENDOR:
        raise VoteRefused("vendor keys cannot vote", "forbidden")
    ticket = await tickets.by_number(number)
    if ticket is None or ticket.get("kind") != "feature_request":
        raise NoSuchRequest(f"no feature request {number}")
    if ticket["status"] == Status.CLOSED:
        raise VoteRefused(f"{number} is closed; votes are only taken on open requests", "closed")
    if not await votes.add(ticket["_id"], voter.id, clock.now()):
        raise VoteRefused(f"you already voted for {number}", "already_voted")
    actor = actor_of(voter)

    async def count_votes(current: dict[str, Any], at: datetime) -> TicketUpdate:
        count = await votes.count(current["_id"])
        update = TicketUpdate(current, at, fields={"votes": count})
        update.note(actor, "voted", f"Vote {count} from {voter.name}", internal=True, votes=count)
        update.emit(TicketVoted, actor, votes=count)
        return update

    return await perform_retrying(ticket, count_votes, tickets=tickets, clock=clock)
