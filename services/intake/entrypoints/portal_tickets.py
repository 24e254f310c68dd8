"""My Tickets and the ticket page: what a reporter follows, answers and confirms, over the API's use cases."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused
from services.intake.domain.lifecycle import IllegalTransition
from services.intake.domain.principals import Principal
from services.intake.domain.sla import OUTCOME_FIELD, clock_summary
from services.intake.entrypoints import portal_format as fmt
from services.intake.entrypoints.portal_forms import read_uploads, text, uploads
from services.intake.entrypoints.portal_web import PageError, portal_of
from services.intake.entrypoints.views import TicketSummaryView, TicketView
from services.intake.service_layer import queries
from services.intake.service_layer.attachments import AttachmentRefused, accept_attachment
from services.intake.service_layer.commands import ConcurrentChange, NotVisible, act, actor_of, visible_ticket
from services.intake.service_layer.queries import TicketFilter
from shared.contracts import TICKET_NUMBER_PATTERN, IncidentType, Severity, Status, TicketKind

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DONE = {"commented": "Your comment was added.", "answered": "Thank you: your answer was sent and work resumes.",
        "confirmed_fixed": "Thank you: the ticket is closed.",
        "still_has_issues": "The ticket is reopened and goes to the next support tier.",
        "needs_more_info": "Your question was sent to support.", "bumped": "Your request for a higher priority was sent.",
        "attached": "The files were attached."}


def _choice(value: str | None, allowed: type) -> str | None:
    """Return value if it names a member of the enum, else None (an unknown filter is ignored)."""
    try:
        return allowed(value).value if value else None
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    """Return a YYYY-MM-DD filter day, or None for anything else (ignored, like an unknown filter)."""
    try:
        day = date.fromisoformat(value) if value and len(value) <= 10 else None
    except ValueError:
        return None
    return day if day is not None and date(1970, 1, 1) <= day <= date(9998, 12, 31) else None


def _cursor(value: str | None) -> str | None:
    """Return the ticket id a page cursor names, or None for a cursor this site did not make."""
    if not value or len(value) > 100:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", decoded) else None


def rows_of(entries: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Return list rows: the summary and its SLA phrase (computed from the clocks as they stand now)."""
    state = request.app.state
    now = state.clock.now()
    rows = []
    for entry in entries:
        summary = TicketSummaryView.from_entry(entry, staff=True, now=now, calendar=state.sla.calendar)
        words, tone = fmt.summary_sla([c.model_dump() for c in summary.clocks], summary.status)
        rows.append({"ticket": summary, "sla_words": words, "sla_tone": tone})
    return rows


@router.get("/")
async def home(request: Request) -> Response:
    """The portal's front door: My Tickets, or the console for support staff (signing in first if needed)."""
    portal = portal_of(request)
    person = await portal.person(request)
    return portal.redirect("/console" if person is not None and person.is_staff else "/tickets")


@router.get("/tickets")
async def my_tickets(request: Request) -> Response:
    """My Tickets: filtered by status, severity, type, kind and dates (all in the URL), newest first, paged."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    params = request.query_params
    chosen = {"status": _choice(params.get("status"), Status), "severity": _choice(params.get("severity"), Severity),
              "type": _choice(params.get("type"), IncidentType), "kind": _choice(params.get("kind"), TicketKind),
              "from": _day(params.get("from")), "to": _day(params.get("to"))}
    wanted = TicketFilter(
        status=chosen["status"], severity=chosen["severity"], type=chosen["type"], kind=chosen["kind"],
        created_from=datetime.combine(chosen["from"], time.min, UTC) if chosen["from"] else None,
        created_to=datetime.combine(chosen["to"] + timedelta(days=1), time.min, UTC) if chosen["to"] else None)
    state = request.app.state
    page = await queries.tickets_for(person, wanted, _cursor(params.get("cursor")), PAGE_SIZE, views=state.views,
                                     now=state.clock.now(), history_start=state.settings.history_start)
    filters = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in chosen.items() if v}
    next_cursor = base64.urlsafe_b64encode(page.next_before.encode()).decode() if page.next_before else None
    return await portal.render(request, "tickets.html", {
        "rows": rows_of(page.items, request), "filters": filters, "next_cursor": next_cursor,
        "paged": bool(params.get("cursor")), "statuses": list(Status), "severities": list(Severity),
        "types": list(IncidentType), "kinds": list(TicketKind)})


async def _ticket_for(request: Request, number: str, person: Principal) -> dict[str, Any]:
    """Return the ticket if the person may see it; a 404 page otherwise (the same for tickets that do not exist)."""
    if len(number) > 20 or not re.fullmatch(TICKET_NUMBER_PATTERN, number):
        raise PageError(404, "No such ticket", f"There is no ticket {number[:20]}. Ticket numbers look like INC-000123.")
    try:
        return await visible_ticket(number, person, tickets=request.app.state.tickets)
    except NotVisible:
        raise PageError(404, "No such ticket", f"No ticket {number} is visible to you. Check the number, or find your "
                                               "tickets under My Tickets.") from None


def clocks_of(document: dict[str, Any], now: datetime, calendar: Any) -> list[dict[str, Any]]:
    """Return each SLA clock of a triaged ticket with its words and tone, as it stands now."""
    sla = document.get("sla") if document.get("triage") else None
    if not isinstance(sla, dict):
        return []
    found = []
    for target, clock in (sla.get("clocks") or {}).items():
        if target in OUTCOME_FIELD:
            summary = clock_summary(target, clock, document.get(OUTCOME_FIELD[target]), now, calendar)
            words, tone = fmt.clock_words(summary, document["status"])
            found.append({**summary, "name": fmt.TARGET_NAMES[target], "words": words, "tone": tone})
    order = {"response": 0, "resolution": 1, "handoff": 2}
    return sorted(found, key=lambda c: order.get(c["target"], 9))


def question_of(view: TicketView) -> str | None:
    """Return what support asked when the ticket is waiting for the reporter's information."""
    if view.status != Status.WAITING_FOR_INFO:
        return None
    for entry in reversed(view.timeline):
        data = entry.data or {}
        if entry.action == "status_changed" and data.get("to_status") == Status.WAITING_FOR_INFO:
            return data.get("reason") or entry.detail.partition(": ")[2] or None
    return None


def public_timeline(view: TicketView) -> list:
    """Return the timeline the reporter sees, newest first, with older triage lines' raw ISO due times in words."""
    return [fmt.in_words(entry) for entry in reversed(view.timeline)]


def expected_response(document: dict[str, Any], request: Request) -> tuple[str | None, datetime | None]:
    """Return the response allowance in words and the time it is due, from triage's targets or the reported severity."""
    policy = request.app.state.sla
    severity = document.get("severity") or document.get("reported_severity") or Severity.MEDIUM.value
    allowance = policy.allowance(severity, "response")
    if allowance is None:
        return None, None
    due = (document.get("sla") or {}).get("response_due_at") or policy.due_at(document["created_at"], allowance)
    return allowance.describe(), due


async def ticket_context(request: Request, document: dict[str, Any], person: Principal) -> dict[str, Any]:
    """Return everything the ticket page shows: what a reporter may see, worded."""
    state = request.app.state
    now = state.clock.now()
    view = TicketView.from_document(document, include_internal=False, now=now, calendar=state.sla.calendar)
    files = await state.attachments.for_ticket(document["_id"])
    response_words, response_due = expected_response(document, request)
    return {"ticket": view, "clocks": clocks_of(document, now, state.sla.calendar), "question": question_of(view),
            "attachments": files, "image_types": IMAGE_TYPES, "is_owner": view.reporter.id == person.id,
            "response_words": response_words, "response_due": response_due, "severities": list(Severity),
            "timeline": public_timeline(view)}


@router.get("/tickets/{number}")
async def ticket_page(request: Request, number: str) -> Response:
    """One ticket: status, severity, tier, team, SLA clocks, public timeline, attachments and what the reporter can do."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    document = await _ticket_for(request, number, person)
    context = await ticket_context(request, document, person)
    done = request.query_params.get("done")
    context.update(created=request.query_params.get("created") == "1", notice=DONE.get(done or ""), error=None,
                   values={})
    return await portal.render(request, "ticket.html", context)


@router.get("/tickets/{number}/live")
async def ticket_live(request: Request, number: str, shown_status: str = "") -> Response:
    """The parts of the ticket page that change by themselves (polled by htmx); the actions too if the status moved."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    document = await _ticket_for(request, number, person)
    context = await ticket_context(request, document, person)
    context.update(error=None, values={}, with_actions=shown_status != document["status"],
                   created=request.query_params.get("created") == "1")
    return await portal.render(request, "_ticket_live.html", context)


async def _act_from_form(request: Request, number: str, decide, done: str, *, files_field: str | None = None) -> Response:
    """Run one reporter action posted by a form, then show the ticket (or the form again with the reason it failed)."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    settings = request.app.state.settings
    form = await portal.checked_form(request, max_files=settings.portal_files_per_submit if files_field else 0)
    state = request.app.state
    document = await _ticket_for(request, number, person)
    files, problems = await read_uploads(uploads(form, files_field), allowed_types=settings.attachment_types,
                                         max_bytes=settings.max_attachment_bytes,
                                         max_files=settings.portal_files_per_submit) if files_field else ([], [])
    error = "; ".join(problems) or None
    if error is None and decide is None and not files:
        error = "Choose the files to attach first."
    if error is None and decide is not None:
        try:
            document = await act(number, person, lambda ticket, actor, now: decide(form, ticket, actor, now),
                                 tickets=state.tickets, clock=state.clock)
        except (ActionRefused, IllegalTransition, ValueError) as exc:
            error = str(exc)
        except ConcurrentChange:
            error = "The ticket changed while you were writing; check what changed and send again."
    if error is None:
        for name, content_type, data in files:
            try:
                await accept_attachment(document, actor_of(person), name, content_type, data,
                                        allowed_types=settings.attachment_types, max_bytes=settings.max_attachment_bytes,
                                        tickets=state.tickets, attachments=state.attachments, clock=state.clock)
            except AttachmentRefused as exc:
                error = f"{name}: {exc}"
                break
    if error is not None:
        context = await ticket_context(request, await _ticket_for(request, number, person), person)
        context.update(created=False, notice=None, error=error, values={k: text(form, k) for k in
                                                                        ("body", "reason", "comment", "answer")})
        return await portal.render(request, "ticket.html", context, status=409)
    return portal.redirect(f"/tickets/{document['number']}?done={done}")


def _required(form: Any, name: str, what: str) -> str:
    value = text(form, name, 20_000).strip()
    if not value:
        raise ValueError(f"Write {what} first.")
    return value


@router.post("/tickets/{number}/comments")
async def comment(request: Request, number: str) -> Response:
    """Add a public comment (and files); on a ticket waiting for the reporter it answers the question."""
    def decide(form, ticket, actor, now):
        return actions.comment(ticket, actor, now, _required(form, "body", "a comment"), False)
    done = "answered" if request.query_params.get("answer") == "1" else "commented"
    return await _act_from_form(request, number, decide, done, files_field="files")


FEEDBACK = ("confirmed_fixed", "still_has_issues", "needs_more_info")


@router.post("/tickets/{number}/feedback")
async def feedback(request: Request, number: str) -> Response:
    """Confirmed Fixed, Still Has Issues or Needs More Info on a proposed solution."""
    form = await portal_of(request).checked_form(request)
    choice = text(form, "feedback")

    def decide(form, ticket, actor, now):
        if choice not in FEEDBACK:
            raise ValueError("Answer with Confirmed Fixed, Still Has Issues or Needs More Info.")
        if choice == "needs_more_info":
            _required(form, "comment", "what you need to know")
        return actions.give_feedback(ticket, actor, now, choice, text(form, "comment", 20_000).strip() or None)
    return await _act_from_form(request, number, decide, choice if choice in FEEDBACK else "commented")


@router.post("/tickets/{number}/priority-bump")
async def priority_bump(request: Request, number: str) -> Response:
    """Ask for a higher priority, with a reason."""
    def decide(form, ticket, actor, now):
        requested = _choice(text(form, "requested_severity"), Severity)
        return actions.request_priority_bump(ticket, actor, now, _required(form, "reason", "why it is urgent"),
                                             Severity(requested) if requested else None)
    return await _act_from_form(request, number, decide, "bumped")


@router.post("/tickets/{number}/attachments")
async def attach(request: Request, number: str) -> Response:
    """Attach screenshots or files to a ticket."""
    return await _act_from_form(request, number, None, "attached", files_field="files")


@router.get("/tickets/{number}/attachments/{attachment_id}")
async def download(request: Request, number: str, attachment_id: str) -> Response:
    """Download a file of a ticket you may see; images may be shown inline (sandboxed, never as a page)."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    ticket = await _ticket_for(request, number, person)
    state = request.app.state
    meta = await state.attachments.get(attachment_id) if re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", attachment_id) else None
    if meta is None or meta["ticket_id"] != ticket["_id"]:
        raise PageError(404, "No such file", f"Ticket {number} has no such attachment.")
    safe = re.sub(r"[^A-Za-z0-9._ ()-]", "_", meta["filename"])
    inline = request.query_params.get("inline") == "1" and meta["content_type"] in IMAGE_TYPES
    return StreamingResponse(state.attachments.read(attachment_id), media_type=meta["content_type"], headers={
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe}"',
        "Content-Length": str(meta["size"]), "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, max-age=300"})
