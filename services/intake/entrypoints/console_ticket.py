"""The ticket workbench (`/console/tickets/{number}`): everything about a ticket, and the actions allowed on it now.

Actions post the timeline position the page showed (`seen`); the service layer applies one only if
nothing that matters changed since (service_layer/workbench.py). Otherwise the page comes back with
what changed and the agent's text kept, and nothing is applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.adapters.service_calls import ServiceUnavailable
from services.intake.domain import actions
from services.intake.domain.actions import FEATURE_STATUS_LABELS, FEATURE_STATUSES, ActionRefused, TicketUpdate
from services.intake.domain.lifecycle import IllegalTransition, Mover
from services.intake.domain.offers import offers_for
from services.intake.domain.principals import Principal
from services.intake.domain.queue import countdown
from services.intake.domain.sla import OUTCOME_FIELD, clock_summary
from services.intake.entrypoints import portal_format as fmt
from services.intake.entrypoints.console_web import assignee_of, field, instant, not_found, require_staff, seen_of
from services.intake.entrypoints.portal_tickets import IMAGE_TYPES
from services.intake.entrypoints.portal_web import portal_of
from services.intake.entrypoints.views import TicketView
from services.intake.service_layer.commands import ConcurrentChange, NotVisible, visible_ticket
from services.intake.service_layer.workbench import ChangedMeanwhile, act_as_seen
from shared.contracts import TICKET_NUMBER_PATTERN, Severity, Status
from shared.contracts.lifecycle_events import Actor

router = APIRouter(include_in_schema=False)
DONE = {"acknowledge": "Acknowledged: the response clock stopped.", "assign": "Assigned.",
        "status": "Status changed.", "ask": "The question was sent to the reporter; the SLA clocks are paused.",
        "resolve": "The solution was proposed; the reporter is asked to confirm it.",
        "severity": "Severity changed; new targets follow.", "comment": "Comment added.",
        "note": "Internal note added.", "escalate": "Escalation requested; escalation moves the ticket.",
        "feature-status": "Feature request status changed."}
FORM_FIELDS = ("body", "visibility", "question", "solution", "reason", "severity_reason", "escalate_reason",
               "status", "status_reason", "severity", "tier", "assignee", "feature_status", "feature_note")
SHORTCUTS = (("a", "Acknowledge"), ("t", "Take it: assign to me"), ("c", "Write a public comment"),
             ("n", "Write an internal note"), ("i", "Ask the reporter for information"), ("r", "Propose a resolution"),
             ("s", "Change status"), ("v", "Override severity"), ("e", "Escalate"), ("g", "Back to the queue"),
             ("?", "Show these shortcuts"))


async def _ticket_for(request: Request, number: str, person: Principal) -> dict[str, Any]:
    """Return the ticket by number (or a number it had); a 404 page when there is none."""
    if len(number) > 20 or not re.fullmatch(TICKET_NUMBER_PATTERN, number):
        raise not_found()
    try:
        return await visible_ticket(number, person, tickets=request.app.state.tickets)
    except NotVisible:
        raise not_found() from None


def agent_clocks(document: dict[str, Any], now: datetime, calendar: Any, at_risk_fraction: float) -> list[dict[str, Any]]:
    """Return every SLA clock of a triaged ticket as an agent reads it: state, countdown, due, allowance, use."""
    sla = document.get("sla") if document.get("triage") else None
    if not isinstance(sla, dict):
        return []
    found = []
    for target, clock in (sla.get("clocks") or {}).items():
        if target not in OUTCOME_FIELD:
            continue
        c = clock_summary(target, clock, document.get(OUTCOME_FIELD[target]), now, calendar)
        left, business = c["time_left_seconds"] or 0.0, c["business_time"]
        if c["state"] == "running":
            tone = "at_risk" if c["used_fraction"] >= at_risk_fraction else "ok"
            words = f"{countdown(left, business)} left"
        elif c["state"] == "breached" and c["outcome"] is None:
            tone, words = "overdue", f"overdue {countdown(left, business)}"
        elif c["state"] == "paused":
            tone, words = "paused", f"paused, {countdown(left, business)} left"
        else:
            tone, words = "done", c["state"]
        found.append({**c, "name": fmt.TARGET_NAMES[target], "words": words, "tone": tone})
    order = {"response": 0, "resolution": 1, "handoff": 2}
    return sorted(found, key=lambda c: order.get(c["target"], 9))


def escalation_path(document: dict[str, Any], view: TicketView) -> list[dict[str, Any]]:
    """Return the tier moves so far, oldest first (from the ticket, else from its timeline)."""
    steps = document.get("escalations")
    if steps:
        return list(steps)
    return [{"at": e.at, **(e.data or {}), "reason": e.detail} for e in view.timeline if e.action == "escalated"]


async def workbench_context(request: Request, document: dict[str, Any], person: Principal) -> dict[str, Any]:
    """Return everything the workbench shows of a ticket, for staff."""
    state = request.app.state
    now = state.clock.now()
    view = TicketView.from_document(document, include_internal=True, now=now, calendar=state.sla.calendar)
    staff = await state.staff_directory.members()
    duplicates = [e.data.get("duplicate") for e in view.timeline if e.action == "duplicate_grouped" and e.data]
    vendor_answers = [e for e in view.timeline if e.action == "vendor_reply"]
    return {
        "ticket": view, "document": document, "timeline": [fmt.in_words(e) for e in reversed(view.timeline)],
        "clocks": agent_clocks(document, now, state.sla.calendar, state.sla.at_risk_fraction),
        "attachments": await state.attachments.for_ticket(document["_id"]), "image_types": IMAGE_TYPES,
        "offers": offers_for(document, Mover.AGENT), "staff": staff, "me": assignee_of(person),
        "assignee_name": await state.staff_directory.name_of(view.assignee), "severities": list(Severity),
        "duplicates": [d for d in duplicates if d], "escalations": escalation_path(document, view),
        "previous_numbers": document.get("previous_numbers") or [], "vendor": document.get("vendor"),
        "vendor_answers": vendor_answers, "seen": int(document.get("timeline_seq") or 0),
        "feature_statuses": [(s, FEATURE_STATUS_LABELS[s]) for s in FEATURE_STATUSES],
        "feature_status": document.get("feature_status") or "under_review",
        "refresh_seconds": state.settings.console_refresh_seconds, "shortcuts": SHORTCUTS,
        "notice": None, "error": None, "conflict": None, "values": {}, "shown_status": view.status,
    }


@router.get("/console/tickets/{number}")
async def workbench(request: Request, number: str) -> Response:
    """The ticket workbench."""
    person = await require_staff(request)
    document = await _ticket_for(request, number, person)
    if document["number"] != number:  # a number replaced on escalation: show the current one
        return portal_of(request).redirect(f"/console/tickets/{document['number']}")
    context = await workbench_context(request, document, person)
    context["notice"] = DONE.get(request.query_params.get("done") or "")
    return await portal_of(request).render(request, "console/ticket.html", context)


@router.get("/console/tickets/{number}/live")
async def workbench_live(request: Request, number: str) -> Response:
    """The parts of the workbench that change by themselves (polled): facts, clocks, history."""
    person = await require_staff(request)
    document = await _ticket_for(request, number, person)
    context = await workbench_context(request, document, person)
    context["shown_status"] = request.query_params.get("shown_status") or document["status"]
    return await portal_of(request).render(request, "console/_ticket_live.html", context)


@router.get("/console/tickets/{number}/deliveries")
async def deliveries(request: Request, number: str) -> Response:
    """Each notification of the ticket and every attempt to deliver it, as the notifier recorded them."""
    person = await require_staff(request)
    document = await _ticket_for(request, number, person)
    try:
        found, problem = await request.app.state.service_calls.deliveries(document["_id"]), None
    except ServiceUnavailable as exc:
        found, problem = [], str(exc)
    template = "console/_deliveries.html" if request.headers.get("HX-Request") else "console/deliveries.html"
    return await portal_of(request).render(request, template, {"deliveries": with_times(found), "problem": problem,
                                                               "number": document["number"]})


def with_times(deliveries: list[Any]) -> list[dict[str, Any]]:
    """Return the notifier's deliveries with each attempt's time read (ISO 8601, UTC if it names no zone), else None."""
    found = []
    for delivery in deliveries:
        if not isinstance(delivery, dict):
            continue
        attempts = [{**a, "at": instant(a.get("at"))} for a in delivery.get("attempts") or [] if isinstance(a, dict)]
        found.append({**delivery, "attempts": attempts})
    return found


Decider = Callable[[dict[str, Any], Actor, datetime], TicketUpdate]


def _required(form: Any, name: str, what: str, limit: int = 20_000) -> str:
    """Return a required field, or refuse saying what to write."""
    value = field(form, name, limit)
    if not value:
        raise ActionRefused(f"write {what} first")
    return value


def decider(action: str, form: Any, person: Principal) -> Decider:
    """Return the decision an action form asks for (raising ActionRefused for what is missing)."""
    if action == "acknowledge":
        return actions.acknowledge
    if action == "assign":
        assignee = field(form, "assignee", 200) or assignee_of(person)
        return lambda t, a, now: actions.assign(t, a, now, assignee)
    if action == "status":
        try:
            to = Status(field(form, "status", 30))
        except ValueError:
            raise ActionRefused("choose the new status") from None
        reason = field(form, "status_reason", 5000) or None
        return lambda t, a, now: actions.change_status(t, a, now, to, reason)
    if action == "ask":
        question = _required(form, "question", "the question for the reporter", 5000)
        return lambda t, a, now: actions.change_status(t, a, now, Status.WAITING_FOR_INFO, question)
    if action == "resolve":
        solution = _required(form, "solution", "the proposed solution")
        return lambda t, a, now: actions.resolve(t, a, now, solution)
    if action == "severity":
        try:
            severity = Severity(field(form, "severity", 20))
        except ValueError:
            raise ActionRefused("choose the new severity") from None
        reason = _required(form, "severity_reason", "why the severity changes", 2000)
        return lambda t, a, now: actions.change_severity(t, a, now, severity, reason)
    if action in ("comment", "note"):
        body = _required(form, "body", "the comment" if action == "comment" else "the note")
        internal = action == "note" or field(form, "visibility", 10) == "internal"
        return lambda t, a, now: actions.comment(t, a, now, body, internal)
    if action == "escalate":
        tier = field(form, "tier", 2)
        if tier not in ("1", "2", "3", "4"):
            raise ActionRefused("choose the tier to escalate to")
        reason = _required(form, "escalate_reason", "why the ticket needs that tier", 2000)
        return lambda t, a, now: actions.request_escalation(t, a, now, int(tier), reason)
    if action == "feature-status":
        status = field(form, "feature_status", 20)
        note = field(form, "feature_note", 2000) or None
        return lambda t, a, now: actions.set_feature_status(t, a, now, status, note)
    raise not_found()


@router.post("/console/tickets/{number}/{action}")
async def act(request: Request, number: str, action: str) -> Response:
    """Apply one action from the workbench, as of what the page showed; the page again with the outcome."""
    person = await require_staff(request)
    if action not in DONE:
        raise not_found()
    portal = portal_of(request)
    form = await portal.checked_form(request)
    state = request.app.state
    document = await _ticket_for(request, number, person)
    error, conflict, status = None, None, 200
    try:
        decide = decider(action, form, person)
        document = await act_as_seen(document["number"], person, decide, seen_of(form), tickets=state.tickets,
                                     clock=state.clock)
    except ChangedMeanwhile as exc:
        document, conflict, status = exc.ticket, exc.changes, 409
    except (ActionRefused, IllegalTransition) as exc:
        error, status = str(exc), 409 if isinstance(exc, IllegalTransition) else 422
    except ConcurrentChange as exc:
        error, status = str(exc), 409
    except NotVisible:
        raise not_found() from None
    if status == 200:
        back = field(form, "back", 300)
        if back.startswith("/console") and not back.startswith("//"):
            return portal.redirect(back)
        internal = action == "comment" and field(form, "visibility", 10) == "internal"
        return portal.redirect(f"/console/tickets/{document['number']}?done={'note' if internal else action}")
    if error is None and conflict is None:
        raise AssertionError("unreachable")
    fresh = await _ticket_for(request, document["number"], person)
    context = await workbench_context(request, fresh, person)
    context.update(error=error, conflict=conflict, values={name: field(form, name) for name in FORM_FIELDS},
                   failed_action=action)
    return await portal.render(request, "console/ticket.html", context, status=status)
