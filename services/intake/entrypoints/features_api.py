"""Feature requests: every user can see them and vote once each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from shared.contracts.lifecycle_events import TicketVoted
from shared.problems import Problem
from services.intake.commands import ConcurrentChange, perform
from services.intake.domain.actions import Change
from services.intake.entrypoints.auth import Caller, actor_of
from services.intake.entrypoints.common import PROBLEMS, TICKET_PROBLEMS, TicketNumber
from services.intake.entrypoints.views import FeatureRequestSummary

router = APIRouter(prefix="/v1/feature-requests", tags=["feature requests"])


def _summary(document: dict[str, Any]) -> FeatureRequestSummary:
    return FeatureRequestSummary.model_validate({**document, "votes": document.get("votes", 0)})


@router.get("", response_model=list[FeatureRequestSummary], responses=PROBLEMS)
async def list_feature_requests(
    caller: Caller, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[FeatureRequestSummary]:
    """Open feature requests, most votes first."""
    cursor = request.app.state.tickets.collection.find(
        {"kind": "feature_request", "status": {"$ne": "closed"}},
        {"number": 1, "title": 1, "use_case": 1, "importance": 1, "status": 1, "votes": 1, "created_at": 1},
    ).sort([("votes", -1), ("_id", -1)]).limit(limit)
    return [_summary(d) async for d in cursor]


@router.post("/{number}/votes", response_model=FeatureRequestSummary, responses=TICKET_PROBLEMS)
async def vote(number: TicketNumber, caller: Caller, request: Request) -> FeatureRequestSummary:
    """Vote for a feature request; a second vote by the same user is 409."""
    state = request.app.state
    ticket = await state.tickets.by_number(number)
    if ticket is None or ticket.get("kind") != "feature_request":
        raise Problem(404, "Not found", f"no feature request {number}")
    now = state.clock.now()
    if not await state.votes.add(ticket["_id"], caller.id, now):
        raise Problem(409, "Already voted", f"you already voted for {number}")
    for _ in range(5):
        votes = await state.votes.count(ticket["_id"])
        change = Change(ticket, now, fields={"votes": votes})
        actor = actor_of(caller)
        change.note(actor, "voted", f"Vote {votes} from {caller.name}", votes=votes)
        change.emit(TicketVoted, actor, votes=votes)
        try:
            ticket = await perform(change, tickets=state.tickets)
            break
        except ConcurrentChange:
            ticket = await state.tickets.by_number(number)
    return _summary(ticket)
