"""Attachments (screenshots, logs): upload as the raw body, download if you may see the ticket."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from services.intake.entrypoints.auth import Caller, actor_of
from services.intake.entrypoints.common import (
    TICKET_PROBLEMS,
    TicketNumber,
    visible_ticket,
)
from services.intake.entrypoints.views import AttachmentView
from services.intake.service_layer.attachments import SAFE_FILENAME, AttachmentRefused, accept_attachment
from shared.problems import Problem

router = APIRouter(prefix="/v1/tickets/{number}/attachments", tags=["attachments"], responses=TICKET_PROBLEMS)
AttachmentId = Annotated[str, Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]


def _view(number: str, meta: dict) -> AttachmentView:
    return AttachmentView(id=meta["_id"], filename=meta["filename"], content_type=meta["content_type"],
                          size=meta["size"], uploaded_at=meta["uploaded_at"],
                          href=f"/v1/tickets/{number}/attachments/{meta['_id']}")


@router.post(
    "", status_code=201, response_model=AttachmentView,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    responses={415: {"description": "Type not accepted", "content": {"application/problem+json": {}}}},
)
async def upload(
    number: TicketNumber, caller: Caller, request: Request,
    filename: Annotated[str, Query(pattern=SAFE_FILENAME, description="e.g. screenshot.png")],
) -> AttachmentView:
    """Attach a file; send its bytes as the body with its Content-Type (size and types are limited)."""
    state = request.app.state
    settings = state.settings
    ticket = await visible_ticket(request, number, caller)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        meta = await accept_attachment(ticket, actor_of(caller), filename, content_type, await request.body(),
                                       allowed_types=settings.attachment_types, max_bytes=settings.max_attachment_bytes,
                                       tickets=state.tickets, attachments=state.attachments, clock=state.clock)
    except AttachmentRefused as exc:
        titles = {413: "Body too large", 415: "Unsupported media type", 409: "Too many attachments"}
        raise Problem(exc.status, titles.get(exc.status, "Invalid request"), str(exc)) from exc
    return _view(number, meta)


@router.get("", response_model=list[AttachmentView])
async def list_attachments(number: TicketNumber, caller: Caller, request: Request) -> list[AttachmentView]:
    """The ticket's attachments."""
    ticket = await visible_ticket(request, number, caller)
    return [_view(number, meta) for meta in await request.app.state.attachments.for_ticket(ticket["_id"])]


@router.get("/{attachment_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}})
async def download(number: TicketNumber, attachment_id: AttachmentId, caller: Caller, request: Request) -> StreamingResponse:
    """Download an attachment of a ticket you may see."""
    ticket = await visible_ticket(request, number, caller)
    meta = await request.app.state.attachments.get(attachment_id)
    if meta is None or meta["ticket_id"] != ticket["_id"]:
        raise Problem(404, "Not found", f"no attachment {attachment_id} on {number}")
    safe = re.sub(r"[^A-Za-z0-9._ ()-]", "_", meta["filename"])
    return StreamingResponse(
        request.app.state.attachments.read(attachment_id),
        media_type=meta["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Content-Length": str(meta["size"]),
                 "X-Content-Type-Options": "nosniff"},
    )
