"""What agents and reporters do to a ticket; each action is one atomic change, one or more events."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused, TicketUpdate
from services.intake.domain.lifecycle import IllegalTransition
from services.intake.domain.principals import Principal
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import TICKET_PROBLEMS, TicketNumber, view
from services.intake.entrypoints.schemas import (
    Assignment,
    CommentCreate,
    EscalationRequest,
    FeedbackCreate,
    PriorityBump,
    Resolution,
    SeverityOverride,
    StatusMove,
)
from services.intake.entrypoints.views import TicketView
from services.intake.service_layer.commands import ConcurrentChange, NotVisible, act
from shared.problems import Problem

router = APIRouter(prefix="/v1/tickets/{number}", tags=["ticket actions"], responses=TICKET_PROBLEMS)


async def _act(request: Request, number: str, caller: Principal, decide: Callable[..., TicketUpdate]) -> TicketView:
    """Let the service layer apply the action; answer its refusals as problems."""
    state = request.app.state
    try:
        updated = await act(number, caller, decide, tickets=state.tickets, clock=state.clock)
    except NotVisible as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except IllegalTransition as exc:
        raise Problem(409, "Illegal status change", str(exc), allowed=[s.value for s in exc.allowed]) from exc
    except ActionRefused as exc:
        status = 403 if str(exc).startswith("only ") else 409
        raise Problem(status, "Forbidden" if status == 403 else "Not allowed now", str(exc)) from exc
    except ConcurrentChange as exc:
        raise Problem(409, "Concurrent change", str(exc)) from exc
    return view(request, updated, caller)


@router.post("/acknowledge", response_model=TicketView)
async def acknowledge(number: TicketNumber, caller: Caller, request: Request) -> TicketView:
    """Agents: take the ticket up (first response; Open moves to In Progress)."""
    return await _act(request, number, caller, actions.acknowledge)


@router.post("/assign", response_model=TicketView)
async def assign(number: TicketNumber, body: Assignment, caller: Caller, request: Request) -> TicketView:
    """Agents: assign the ticket."""
    return await _act(request, number, caller, lambda ticket, actor, now: actions.assign(ticket, actor, now, body.assignee))


@router.post("/status", response_model=TicketView)
async def change_status(number: TicketNumber, body: StatusMove, caller: Caller, request: Request) -> TicketView:
    """Move the ticket as the transition table allows your role; 409 names the moves you may make."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.change_status(ticket, actor, now, body.status, body.reason))


@router.post("/severity", response_model=TicketView)
async def change_severity(number: TicketNumber, body: SeverityOverride, caller: Caller, request: Request) -> TicketView:
    """Agents: override the severity with a reason; new SLA targets follow."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.change_severity(ticket, actor, now, body.severity, body.reason))


@router.post("/comments", response_model=TicketView, status_code=201)
async def add_comment(number: TicketNumber, body: CommentCreate, caller: Caller, request: Request) -> TicketView:
    """Comment (agents may write internal notes); a reporter's comment answers a Waiting for Info request."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.comment(ticket, actor, now, body.body, body.visibility == "internal"))


@router.post("/resolve", response_model=TicketView)
async def resolve(number: TicketNumber, body: Resolution, caller: Caller, request: Request) -> TicketView:
    """Agents: propose a solution; the reporter is asked to confirm it."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.resolve(ticket, actor, now, body.proposed_solution))


@router.post("/feedback", response_model=TicketView)
async def feedback(number: TicketNumber, body: FeedbackCreate, caller: Caller, request: Request) -> TicketView:
    """Reporters: confirmed_fixed closes, still_has_issues reopens (and escalates), needs_more_info returns it."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.give_feedback(ticket, actor, now, body.feedback, body.comment))


@router.post("/priority-bump", response_model=TicketView)
async def priority_bump(number: TicketNumber, body: PriorityBump, caller: Caller, request: Request) -> TicketView:
    """Reporters: ask for a higher priority, with a reason."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.request_priority_bump(ticket, actor, now, body.reason, body.requested_severity))


@router.post("/escalate", response_model=TicketView)
async def escalate(number: TicketNumber, body: EscalationRequest, caller: Caller, request: Request) -> TicketView:
    """Agents: ask for a higher tier with a reason; escalation moves the ticket (new team, hand-off clock)."""
    return await _act(request, number, caller,
                      lambda ticket, actor, now: actions.request_escalation(ticket, actor, now, body.to_tier, body.reason))
