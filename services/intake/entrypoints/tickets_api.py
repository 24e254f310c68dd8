"""Report tickets, list your history, read one ticket."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.intake.domain.actions import ActionRefused
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import (
    PROBLEMS,
    TICKET_PROBLEMS,
    TicketNumber,
    view,
    visible_ticket,
)
from services.intake.entrypoints.schemas import TicketCreate
from services.intake.entrypoints.views import TicketPage, TicketSummaryView, TicketView, TimelinePage
from services.intake.service_layer import queries
from services.intake.service_layer.commands import report_as
from services.intake.service_layer.queries import TicketFilter
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
    try:
        document = await report_as(caller, body.to_fields(), tickets=state.tickets, clock=state.clock,
                                   prefix=state.settings.ticket_prefix)
    except ActionRefused as exc:
        raise Problem(403, "Forbidden", str(exc)) from exc
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
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="words of the title")] = None,
    cursor: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_=-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TicketPage:
    """Your ticket history (agents see all), newest first, filtered; follow next_cursor for more.

    `q` finds tickets whose title has every word given (whole words, any order, case and accents
    ignored). A page may hold fewer items than `limit` and still have a `next_cursor`: it stopped at
    its scan bound (about two months of history, or two years of the word index) and says where to go on.
    """
    for bound in (created_from, created_to):
        if bound is not None and bound.tzinfo is None:
            raise Problem(422, "Invalid request", "created_from and created_to need a UTC offset, e.g. Z")
    state = request.app.state
    wanted = TicketFilter(
        status=status.value if status else None, severity=severity.value if severity else None,
        type=type.value if type else None, kind=kind.value if kind else None,
        created_from=created_from, created_to=created_to, q=q)
    before = _decode_cursor(cursor) if cursor else None
    now = state.clock.now()
    page = await queries.tickets_for(caller, wanted, before, min(limit, state.settings.page_size_max),
                                     views=state.views, now=now, history_start=state.settings.history_start)
    items = [TicketSummaryView.from_entry(entry, staff=caller.is_staff, now=now, calendar=state.sla.calendar)
             for entry in page.items]
    return TicketPage(items=items, next_cursor=_encode_cursor(page.next_before) if page.next_before else None)


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
    """A ticket with its latest timeline entries; reporters see only their own (others are 404) and no internal notes.

    Older entries (`timeline_archived` > 0): GET /v1/tickets/{number}/timeline?before=<seq of the oldest shown>.
    """
    return view(request, await visible_ticket(request, number, caller), caller)


@router.get("/tickets/{number}/timeline", response_model=TimelinePage, responses=TICKET_PROBLEMS)
async def older_timeline(
    number: TicketNumber, caller: Caller, request: Request,
    before: Annotated[int, Query(ge=1, le=10_000_000, description="seq of the oldest entry you have")],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TimelinePage:
    """Older timeline entries of a ticket, newest first (reporters never see internal notes)."""
    ticket = await visible_ticket(request, number, caller)
    entries = await request.app.state.tickets.older_timeline(ticket, before, limit)
    if not caller.is_staff:
        entries = [e for e in entries if e.get("visibility", "public") == "public"]
    return TimelinePage(items=entries, next_before=entries[-1]["seq"] if len(entries) == limit else None)
