"""Acknowledge a page from its one-click link: `GET /ack/<token>` shows what it acknowledges, `POST` does it.

The token (signed by the notifier with ACK_LINK_SECRET) proves who was paged for which ticket and page,
so no API key is needed; it expires and works once. A GET never changes anything: mail scanners and link
previews follow links, so the page asks the person to confirm with a button (a POST). Browsers get HTML,
other clients problem+json or JSON. Bad tokens count against the caller's address like bad API keys.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from services.intake.domain.actions import ActionRefused, acknowledge_page
from services.intake.entrypoints.ratelimit import retry_after_header
from services.intake.service_layer.commands import ConcurrentChange, perform_retrying
from shared.ack_links import AckGrant, ExpiredLink, read
from shared.contracts.lifecycle_events import Actor
from shared.problems import problem_response
from shared.signed_tokens import BadToken

router = APIRouter(tags=["acknowledge from a page"])
Token = Annotated[str, Path(min_length=10, max_length=2048)]
_REFUSAL = {"application/problem+json": {}, "text/html": {}}


class AckLinkView(BaseModel):
    """What a link would acknowledge, and whether it still can."""

    number: str
    title: str
    status: str
    severity: str | None = None
    person: str
    page_id: str
    step: str | None = None
    expires_at: str
    can_acknowledge: bool
    why_not: str | None = None


class AckDone(BaseModel):
    """The acknowledgement made."""

    acknowledged: bool
    number: str
    by: str
    status: str
    first_response_at: str | None = None


def _responses(ok: type[BaseModel], *extra: int) -> dict[int | str, dict[str, Any]]:
    """Return the documented answers of an ack route: JSON or HTML, and refusals as problem+json or HTML."""
    described = {404: "No such link (altered, forged, or its ticket is gone)", 409: "Already used or acknowledged",
                 410: "The link expired", 422: "Not a token", 429: "Too many bad links from this address"}
    return {200: {"model": ok, "content": {"text/html": {}}},
            **{code: {"description": described[code], "content": _REFUSAL} for code in (404, 410, 422, 429, *extra)}}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                        f"</title><meta name=\"robots\" content=\"noindex\"></head><body><h1>{html.escape(title)}</h1>"
                        f"{body}</body></html>", status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _refuse(request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_html(request):
        response = _page(title, f"<p>{html.escape(detail)}</p>", status)
        response.headers.update(headers or {})
        return response
    return problem_response(status, title, detail, instance="/ack", headers=headers)


async def _grant(request: Request, token: str) -> AckGrant | Response:
    """Return the token's grant, or the refusal to send (bad tokens count against the address)."""
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    wait = state.auth_failures.wait(address)
    if wait > 0:
        return _refuse(request, 429, "Too many requests", f"too many bad links from {address}; retry in {wait:.0f} s",
                       retry_after_header(wait))
    try:
        return read(token, state.settings.ack_link_secret, state.clock.now())
    except ExpiredLink as exc:
        return _refuse(request, 410, "Link expired", f"{exc}; acknowledge on the ticket instead")
    except BadToken as exc:
        state.auth_failures.failed(address)
        return _refuse(request, 404, "Not found", f"no such acknowledge link: {exc}")


def _standing(ticket: dict[str, Any], grant: AckGrant) -> str | None:
    """Return why the link can no longer acknowledge, or None if it can."""
    if grant.token_id in ticket.get("ack_links_used", []):
        return "this link was already used"
    done = next((a for a in ticket.get("page_acknowledgements", []) if a.get("page_id") == grant.page_id), None)
    if done is not None:
        return f"this page was already acknowledged by {done['name']} at {done['at'].strftime('%Y-%m-%d %H:%M UTC')}"
    if ticket["status"] == "closed":
        return f"ticket {ticket['number']} is closed"
    return None


@router.get("/ack/{token}", summary="What an acknowledge link would acknowledge (changes nothing)", response_model=None,
            responses=_responses(AckLinkView))
async def show(request: Request, token: Token) -> Response:
    grant = await _grant(request, token)
    if isinstance(grant, Response):
        return grant
    ticket = await request.app.state.tickets.get(grant.ticket_id)
    if ticket is None:
        return _refuse(request, 404, "Not found", "the ticket of this link does not exist")
    standing = _standing(ticket, grant)
    facts = {"number": ticket["number"], "title": ticket["title"], "status": ticket["status"],
             "severity": ticket.get("severity"), "person": grant.name, "page_id": grant.page_id, "step": grant.step,
             "expires_at": grant.expires_at.isoformat(), "can_acknowledge": standing is None, "why_not": standing}
    if not _wants_html(request):
        return JSONResponse(facts, headers={"Cache-Control": "no-store"})
    title = f"Acknowledge page for {ticket['number']}?"
    body = (f"<p><strong>{html.escape(ticket['number'])}</strong> [{html.escape(str(ticket.get('severity')))}, "
            f"{html.escape(ticket['status'])}]: {html.escape(ticket['title'])}</p>"
            f"<p>Paged: {html.escape(grant.name)}. The link works once, until "
            f"{grant.expires_at.strftime('%Y-%m-%d %H:%M UTC')}.</p>")
    if standing is not None:
        return _page(f"{ticket['number']}: nothing to acknowledge", body + f"<p>{html.escape(standing)}.</p>")
    form = (f"<form method=\"post\" action=\"/ack/{html.escape(token, quote=True)}\">"
            f"<button type=\"submit\">Acknowledge as {html.escape(grant.name)}</button></form>")
    return _page(title, body + form)


@router.post("/ack/{token}", summary="Acknowledge the page: first response, and the page chain stops",
             response_model=None, responses=_responses(AckDone, 409))
async def acknowledge(request: Request, token: Token) -> Response:
    grant = await _grant(request, token)
    if isinstance(grant, Response):
        return grant
    state = request.app.state
    ticket = await state.tickets.get(grant.ticket_id)
    if ticket is None:
        return _refuse(request, 404, "Not found", "the ticket of this link does not exist")
    actor = Actor(type="agent", id=grant.person, name=grant.name)
    try:
        updated = await perform_retrying(
            ticket, lambda current, now: acknowledge_page(current, actor, now, page_id=grant.page_id, step=grant.step,
                                                          token_id=grant.token_id),
            tickets=state.tickets, clock=state.clock)
    except ActionRefused as exc:
        return _refuse(request, 409, "Not acknowledged", str(exc))
    except ConcurrentChange as exc:
        return _refuse(request, 409, "Concurrent change", str(exc))
    except LookupError:
        return _refuse(request, 404, "Not found", "the ticket of this link does not exist")
    done = {"acknowledged": True, "number": updated["number"], "by": grant.name, "status": updated["status"],
            "first_response_at": updated.get("first_response_at").isoformat()
            if updated.get("first_response_at") else None}
    if not _wants_html(request):
        return JSONResponse(done, headers={"Cache-Control": "no-store"})
    return _page(f"{updated['number']} acknowledged",
                 f"<p>Acknowledged by {html.escape(grant.name)}; further pages for this ticket stop.</p>")
