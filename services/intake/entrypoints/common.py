"""Helpers shared by the intake routes: ticket lookup with visibility, views, documented problems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from services.intake.domain.principals import Principal
from services.intake.entrypoints.views import TicketView
from services.intake.service_layer import commands
from shared.problems import Problem

TicketNumber = Annotated[str, Path(pattern=r"^[A-Z]{2,5}-\d{6,}$", max_length=20, description="e.g. INC-000123")]

_PROBLEM = {"application/problem+json": {}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body could not be decoded (not UTF-8 or not JSON)", "content": _PROBLEM},
    401: {"description": "Missing or invalid API key", "content": _PROBLEM},
    413: {"description": "Body too large", "content": _PROBLEM},
    422: {"description": "Invalid body or parameters", "content": _PROBLEM},
    429: {"description": "Rate limit exceeded; see Retry-After", "content": _PROBLEM},
}
TICKET_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    403: {"description": "Your role may not do this", "content": _PROBLEM},
    404: {"description": "No such ticket visible to you", "content": _PROBLEM},
    409: {"description": "Not allowed in the ticket's current status, or changed concurrently", "content": _PROBLEM},
}


async def visible_ticket(request: Request, number: str, caller: Principal) -> dict[str, Any]:
    """Return the ticket if the caller may see it; otherwise 404 (never 403, so numbers leak nothing)."""
    try:
        return await commands.visible_ticket(number, caller, tickets=request.app.state.tickets)
    except commands.NotVisible as exc:
        raise Problem(404, "Not found", str(exc)) from exc


def view(request: Request, document: dict[str, Any], caller: Principal) -> TicketView:
    """Return the ticket as this caller may see it, with its clocks as they stand now."""
    state = request.app.state
    return TicketView.from_document(document, include_internal=caller.is_staff, now=state.clock.now(),
                                    calendar=state.sla.calendar)
