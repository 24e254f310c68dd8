"""Report tickets, list your history, read one ticket."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import (
    PROBLEMS,
    TICKET_PROBLEMS,
    TicketNumber,
    view,
    visible_ticket,
)
from services.intake.entrypoints.schemas import TicketCreate
from services.intake.entrypoints.views import TicketPage, TicketView
from services.intake.service_layer.commands import report_ticket
from shared.contracts import IncidentType, Severity, Status, TicketKind
from shared.problems import Problem

router = APIRouter(prefix="/v1", tags=["tickets"])
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, pattern=r"^[A-Za-z0-9_.:-]{1,200}$",
           description="Send the same key to retry a create safely"),
]


@router.post(
    "/tickets", status_code=201, response_model=TicketView,
    responses={**PROBLEMS, 409: {"description": "A request with this Idempotency-Key is still in progress",
                                 "content": {"application/problem+json": {}}}},
)
async def create_ticket(body: TicketCreate, caller: Caller, request: Request, response: Response,
                        idempotency_key: IdempotencyKey = None) -> Any:
    """Open a ticket; it is stored before 201 is returned, then triaged asynchronously."""
    state = request.app.state
    if idempotency_key is None:
        return await _create(body, caller, request, response)
    body_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    previous = await state.idempotency.begin(caller.id, idempotency_key, body_hash, state.clock.now())
    if previous is not None:
        if previous["body_hash"] != body_hash:
            raise Problem(422, "Idempotency key reused", "this Idempotency-Key was used with a different body")
        if previous["state"] != "done":
            raise Problem(409, "Request in progress", "a request with this Idempotency-Key is still being processed")
        return JSONResponse(previous["body"], status_code=previous["status"], headers=previous["headers"])
    try:
        created = await _create(body, caller, request, response)
    except BaseException:
        await state.idempotency.abandon(caller.id, idempotency_key)
        raise
    payload = created.model_dump(mode="json")
    await state.idempotency.finish(caller.id, idempotency_key, 201, payload, {"Location": response.headers["Location"]})
    return created


async def _create(body: TicketCreate, caller: Caller, request: Request, response: Response) -> TicketView:
    state = request.app.state
    document = await report_ticket(body.to_fields(), caller.as_reporter(), tickets=state.tickets,
                                   clock=state.clock, prefix=state.settings.ticket_prefix)
    response.headers["Location"] = f"/v1/tickets/{document['number']}"
    return view(request, document, caller)


@router.get("/tickets", response_model=TicketPage, responses=PROBLEMS)
async def list_tickets(
    caller: Caller,
    request: Request,
    status: Status | None = None,
    severity: Severity | None = None,
    type: IncidentType | None = None,  # noqa: A002 - the spec's field name
    kind: TicketKind | None = None,
    created_from: Annotated[datetime | None, Query(description="inclusive, ISO 8601 with offset")] = None,
    created_to: Annotated[datetime | None, Query(description="exclusive, ISO 8601 with offset")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="text in title or description")] = None,
    cursor: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_=-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TicketPage:
    """Your ticket history (agents see all), newest first, filtered; follow next_cursor for more."""
    query: dict[str, Any] = {}
    if not caller.is_staff:
        query["reporter.id"] = caller.id
    for name, value in (("status", status), ("severity", severity), ("type", type), ("kind", kind)):
        if value is not None:
            query[name] = value.value
    for bound, operator in ((created_from, "$gte"), (created_to, "$lt")):
        if bound is not None:
            if bound.tzinfo is None:
                raise Problem(422, "Invalid request", "created_from and created_to need a UTC offset, e.g. Z")
            query.setdefault("created_at", {})[operator] = bound
    if q:
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"title": pattern}, {"description": pattern}]
    if cursor:
        query["_id"] = {"$lt": _decode_cursor(cursor)}
    limit = min(limit, request.app.state.settings.page_size_max)
    documents = await request.app.state.tickets.search(query, limit + 1)
    more = len(documents) > limit
    documents = documents[:limit]
    next_cursor = _encode_cursor(documents[-1]["_id"]) if more and documents else None
    return TicketPage(items=[view(request, d, caller) for d in documents], next_cursor=next_cursor)


def _encode_cursor(ticket_id: str) -> str:
    return base64.urlsafe_b64encode(ticket_id.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "Invalid request", "cursor is not one this API returned") from exc
    if not re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", decoded):
        raise Problem(422, "Invalid request", "cursor is not one this API returned")
    return decoded


@router.get("/tickets/{number}", response_model=TicketView, responses=TICKET_PROBLEMS)
async def get_ticket(number: TicketNumber, caller: Caller, request: Request) -> TicketView:
    """A ticket with its timeline; reporters see only their own (others are 404) and no internal notes."""
    return view(request, await visible_ticket(request, number, caller), caller)
