"""The console's queue (`/console`): the open work by urgency, filters in the URL, counts, refresh, bulk actions."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused, TicketUpdate
from services.intake.domain.queue import ASSIGNEE_CHOICES, QueueFilter
from services.intake.domain.timeline_words import status_label
from services.intake.entrypoints import portal_format as fmt
from services.intake.entrypoints.console_web import (
    StaffDirectory,
    field,
    me_of,
    require_staff,
)
from services.intake.entrypoints.portal_web import portal_of
from services.intake.service_layer.open_queue import OpenQueue
from services.intake.service_layer.workbench import MAX_BULK, AlreadyDone, act_on_many
from shared.contracts import TICKET_NUMBER_PATTERN, IncidentType, Severity, Status
from shared.contracts.lifecycle_events import Actor

router = APIRouter(include_in_schema=False)
BULK_STATUSES = (Status.IN_PROGRESS, Status.WAITING_FOR_INFO, Status.ON_HOLD, Status.CLOSED)
"""Status moves a bulk action offers (resolving needs a solution per ticket, on the workbench)."""
ULID = r"^[0-9A-HJKMNP-TV-Z]{26}$"


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """Return value if it is one of allowed, else None (an unknown filter value is ignored)."""
    return value if value in allowed else None


def queue_filter(params: Any) -> QueueFilter:
    """Return the queue filter the URL asks for; values it does not know are ignored."""
    tier = params.get("tier")
    team = (params.get("team") or "").strip()[:100] or None
    text = (params.get("q") or "").strip()[:200] or None
    return QueueFilter(
        team=team, tier=int(tier) if tier in ("1", "2", "3", "4") else None,
        severity=_choice(params.get("severity"), tuple(s.value for s in Severity)),
        status=_choice(params.get("status"), tuple(s.value for s in Status if s is not Status.CLOSED)),
        type=_choice(params.get("type"), tuple(t.value for t in IncidentType)),
        assignee=_choice(params.get("assignee"), ASSIGNEE_CHOICES), text=text)


def _since(value: str | None) -> str | None:
    """Return a ticket id the page saw last (ids are time-ordered), or None for anything else."""
    return value if value and re.fullmatch(ULID, value) else None


async def queue_context(request: Request, person: Any) -> dict[str, Any]:
    """Return what the queue page and its refreshed part show."""
    state = request.app.state
    params = request.query_params
    wanted = queue_filter(params)
    show = params.get("show", "")
    limit = int(show) if show.isdigit() and 0 < int(show) <= 2000 else state.settings.console_queue_rows
    now = state.clock.now()
    since = _since(params.get("since"))
    open_queue: OpenQueue = state.open_queue
    view = await open_queue.view(wanted, me_of(person), now=now, limit=limit, since=since)
    directory: StaffDirectory = state.staff_directory
    names = {m.email.lower(): m.name for m in await directory.members() if m.email}
    filters = wanted.as_params()
    teams = sorted({*view.counts.get("team", {}), *([wanted.team] if wanted.team else [])})
    return {"teams": teams, "form_id": secrets.token_hex(12), "view": view, "filters": filters, "wanted": wanted,
            "since": since or view.newest_id or "", "limit": limit, "names": names, "staff": await directory.members(),
            "severities": list(Severity), "statuses": [s for s in Status if s is not Status.CLOSED],
            "types": list(IncidentType), "bulk_statuses": BULK_STATUSES, "assignee_choices": ASSIGNEE_CHOICES,
            "query_string": urlencode(filters), "refresh_seconds": state.settings.console_refresh_seconds,
            "bulk": None, "age": lambda created: fmt.duration((now - created).total_seconds())}


@router.get("/console")
async def queue_page(request: Request) -> Response:
    """The queue: open tickets by urgency, filtered by the URL; htmx asks again for the list alone to refresh it."""
    person = await require_staff(request)
    context = await queue_context(request, person)
    portal = portal_of(request)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "queue":
        return await portal.render(request, "console/_queue.html", context)
    return await portal.render(request, "console/queue.html", context)


def _bulk_decide(form: Any, person: Any) -> tuple[Any, str | None, str]:
    """Return the bulk action's decision per ticket, its once-key (notes), and what it did, in words."""
    action = field(form, "action", 20)
    if action == "assign":
        assignee = field(form, "assignee", 200)
        if not assignee:
            raise ActionRefused("choose whom to assign the tickets to")

        def assign(ticket: dict[str, Any], actor: Actor, now: datetime) -> TicketUpdate:
            if (ticket.get("assignee") or "").lower() == assignee.lower():
                raise AlreadyDone(f"already assigned to {assignee}")
            return actions.assign(ticket, actor, now, assignee)
        return assign, None, f"assigned to {assignee}"
    if action == "status":
        try:
            to = Status(field(form, "status", 30))
        except ValueError:
            raise ActionRefused("choose the status to move the tickets to") from None
        if to not in BULK_STATUSES:
            raise ActionRefused("resolve tickets one by one on their page, with the solution")
        reason = field(form, "reason", 5000) or None

        def move(ticket: dict[str, Any], actor: Actor, now: datetime) -> TicketUpdate:
            if ticket["status"] == to:
                raise AlreadyDone(f"already {status_label(to)}")
            return actions.change_status(ticket, actor, now, to, reason)
        return move, None, f"moved to {status_label(to)}"
    if action == "note":
        note = field(form, "note")
        form_id = field(form, "form_id", 64)
        if not note:
            raise ActionRefused("write the internal note first")
        if not form_id.isalnum():
            raise ActionRefused("send the form again from the queue page")

        def add_note(ticket: dict[str, Any], actor: Actor, now: datetime) -> TicketUpdate:
            return actions.comment(ticket, actor, now, note, True)
        return add_note, f"console-bulk-note:{form_id}", "internal note added"
    raise ActionRefused("choose an action: assign, change status or add an internal note")


@router.post("/console/bulk")
async def bulk(request: Request) -> Response:
    """Apply one action to the selected tickets; show the queue with what happened to each."""
    person = await require_staff(request)
    portal = portal_of(request)
    form = await portal.checked_form(request)
    state = request.app.state
    numbers = [n for n in form.getlist("ticket") if isinstance(n, str) and len(n) <= 20
               and re.fullmatch(TICKET_NUMBER_PATTERN, n)]
    result: dict[str, Any]
    if not numbers:
        result = {"error": "Select the tickets first (the boxes in the first column).", "outcomes": []}
    elif len(numbers) > MAX_BULK:
        result = {"error": f"Select at most {MAX_BULK} tickets at once.", "outcomes": []}
    else:
        try:
            decide, once_key, done = _bulk_decide(form, person)
            outcomes = await act_on_many(numbers, person, decide, tickets=state.tickets, clock=state.clock,
                                         once_key=once_key)
            result = {"error": None, "done": done, "outcomes": outcomes}
        except ActionRefused as exc:
            result = {"error": f"Nothing was changed: {exc}.", "outcomes": []}
    context = await queue_context(request, person)
    context["bulk"] = result
    status = 200 if not result["error"] else 422
    return await portal.render(request, "console/queue.html", context, status=status)
