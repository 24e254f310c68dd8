"""The intake HTTP API: report tickets and read them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pymongo.errors import DuplicateKeyError

from shared.contracts import Reporter, TicketReported, make_envelope
from shared.ids import new_id
from shared.problems import Problem
from services.intake.domain.principals import Principal
from services.intake.domain.tickets import format_number, new_ticket_document
from services.intake.entrypoints.auth import authenticated
from services.intake.entrypoints.schemas import TicketCreate, TicketView

router = APIRouter(prefix="/v1", tags=["tickets"])
Caller = Annotated[Principal, Depends(authenticated)]
TicketNumber = Annotated[str, Path(pattern=r"^[A-Z]{2,5}-\d{6,}$", max_length=20, description="e.g. INC-000123")]
NUMBER_ATTEMPTS = 5

PROBLEM_RESPONSES = {
    401: {"description": "Missing or invalid API key", "content": {"application/problem+json": {}}},
    413: {"description": "Body too large", "content": {"application/problem+json": {}}},
    422: {"description": "Invalid body", "content": {"application/problem+json": {}}},
}


@router.post("/tickets", status_code=201, response_model=TicketView, responses=PROBLEM_RESPONSES)
async def report_ticket(body: TicketCreate, caller: Caller, request: Request, response: Response) -> TicketView:
    """Open a ticket; it is stored before 201 is returned and triaged asynchronously."""
    state = request.app.state
    now = state.clock.now()
    ticket_id = new_id()
    fields = body.model_dump(mode="json", exclude={"severity"})
    fields["reported_severity"] = body.severity.value if body.severity else None
    for attempt in range(NUMBER_ATTEMPTS):
        number = format_number(state.settings.ticket_prefix, await state.tickets.next_sequence())
        reported = TicketReported(
            ticket_id=ticket_id,
            number=number,
            kind=body.kind,
            title=body.title,
            description=body.description,
            type=body.type,
            reported_severity=body.severity,
            users_affected=body.users_affected,
            production=body.production,
            workaround_available=body.workaround_available,
            component=body.component,
            reporter=Reporter(**caller.as_reporter()),
            reported_at=now,
        )
        envelope = make_envelope(reported, producer="intake", occurred_at=now, ticket_id=ticket_id)
        document = new_ticket_document(
            ticket_id=ticket_id,
            number=number,
            fields=fields,
            reporter=caller.as_reporter(),
            now=now,
            outbox=[envelope.to_document()],
        )
        try:
            await state.tickets.insert(document)
            break
        except DuplicateKeyError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    state.runtime.relay.wake()
    response.headers["Location"] = f"/v1/tickets/{number}"
    return TicketView.from_document(document)


@router.get(
    "/tickets/{number}",
    response_model=TicketView,
    responses={**PROBLEM_RESPONSES, 404: {"description": "No such ticket visible to you", "content": {"application/problem+json": {}}}},
)
async def get_ticket(number: TicketNumber, caller: Caller, request: Request) -> TicketView:
    """Return a ticket with its timeline; reporters see only their own (others are 404)."""
    document = await request.app.state.tickets.by_number(number)
    if document is None or not caller.may_see(document):
        raise Problem(404, "Not found", f"no ticket {number} is visible to you")
    return TicketView.from_document(document)
