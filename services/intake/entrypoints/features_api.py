"""Feature requests: every user can see them and vote once each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import PROBLEMS, TICKET_PROBLEMS, TicketNumber
from services.intake.entrypoints.schemas import FeatureDecision
from services.intake.entrypoints.views import FeatureRequestSummary
from services.intake.service_layer.commands import ConcurrentChange, NotVisible, act
from services.intake.service_layer.votes import NoSuchRequest, VoteRefused, cast_vote
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
    state = request.app.state
    try:
        ticket = await cast_vote(number, caller, tickets=state.tickets, votes=state.votes, clock=state.clock)
    except NoSuchRequest as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except VoteRefused as exc:
        if exc.why == "forbidden":
            raise Problem(403, "Forbidden", str(exc)) from exc
        raise Problem(409, "Already voted" if exc.why == "already_voted" else "Closed", str(exc)) from exc
    return _summary(ticket)


@router.post("/{number}/status", response_model=FeatureRequestSummary, responses=TICKET_PROBLEMS)
async def decide(number: TicketNumber, body: FeatureDecision, caller: Caller, request: Request) -> FeatureRequestSummary:
    """Agents: say where a feature request stands (under review, planned, declined, done); reporters see it."""
    state = request.app.state
    try:
        ticket = await act(number, caller, lambda t, actor, now: actions.set_feature_status(t, actor, now, body.status,
                                                                                          body.note),
                           tickets=state.tickets, clock=state.clock)
    except NotVisible as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except ActionRefused as exc:
        status = 403 if str(exc).startswith("only ") else 409
        raise Problem(status, "Forbidden" if status == 403 else "Not allowed now", str(exc)) from exc
    except ConcurrentChange as exc:
        raise Problem(409, "Concurrent change", str(exc)) from exc
    return _summary(ticket)
