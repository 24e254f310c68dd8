"""Feature requests: every user can see them and vote once each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.intake.domain.actions import TicketUpdate
from services.intake.domain.principals import Role
from services.intake.entrypoints.auth import Caller, actor_of
from services.intake.entrypoints.common import PROBLEMS, TICKET_PROBLEMS, TicketNumber
from services.intake.entrypoints.views import FeatureRequestSummary
from services.intake.service_layer.commands import perform_retrying
from shared.contracts import Status
from shared.contracts.lifecycle_events import TicketVoted
from shared.problems import Problem

router = APIRouter(prefix="/v1/feature-requests", tags=["feature requests"])


def _summary(document: dict[str, Any]) -> FeatureRequestSummary:
    return FeatureRequestSummary.model_validate({**document, "votes": document.get("votes", 0)})


@router.get("", response_model=list[FeatureRequestSummary], responses=PROBLEMS)
async def list_feature_requests(
    caller: Caller, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[FeatureRequestSummary]:
    """Open feature requests, most votes first."""
    entries = await request.app.state.views.feature_entries()
    entries.sort(key=lambda e: (e.get("votes", 0), e["id"]), reverse=True)
    return [_summary(entry) for entry in entries[:limit]]


@router.post("/{number}/votes", response_model=FeatureRequestSummary, responses=TICKET_PROBLEMS)
async def vote(number: TicketNumber, caller: Caller, request: Request) -> FeatureRequestSummary:
    """Vote for a feature request that is not closed; a second vote by the same user is 409; vendors do not vote.

    Who voted is recorded for support staff only: the request's public timeline shows the count.
    """
    if caller.role is Role.VENDOR:
        raise Problem(403, "Forbidden", "vendor keys cannot vote")
    state = request.app.state
    ticket = await state.tickets.by_number(number)
    if ticket is None or ticket.get("kind") != "feature_request":
        raise Problem(404, "Not found", f"no feature request {number}")
    if ticket["status"] == Status.CLOSED:
        raise Problem(409, "Closed", f"{number} is closed; votes are only taken on open requests")
    now = state.clock.now()
    if not await state.votes.add(ticket["_id"], caller.id, now):
        raise Problem(409, "Already voted", f"you already voted for {number}")
    actor = actor_of(caller)

    async def count_votes(current: dict, at: datetime) -> TicketUpdate:
        votes = await state.votes.count(current["_id"])
        update = TicketUpdate(current, at, fields={"votes": votes})
        update.note(actor, "voted", f"Vote {votes} from {caller.name}", internal=True, votes=votes)
        update.emit(TicketVoted, actor, votes=votes)
        return update

    ticket = await perform_retrying(ticket, count_votes, tickets=state.tickets, clock=state.clock)
    return _summary(ticket)
