"""Report Issue, Bug Report and Feature Request (with search and one-click votes): the API's use cases as forms."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.domain.actions import ActionRefused
from services.intake.entrypoints import portal_format as fmt
from services.intake.entrypoints.portal_auth import client_address
from services.intake.entrypoints.portal_forms import (
    FIELD_NAMES,
    read_uploads,
    report_body,
    text,
    uploads,
    validate_report,
)
from services.intake.entrypoints.portal_web import portal_of
from services.intake.service_layer.attachments import AttachmentRefused, accept_attachment
from services.intake.service_layer.commands import actor_of, report_as
from services.intake.service_layer.queries import TicketFilter
from services.intake.service_layer.votes import NoSuchRequest, VoteRefused, cast_vote
from shared.contracts import IncidentType, Severity

router = APIRouter(include_in_schema=False)
FORMS = {"incident": "report.html", "bug_report": "bug.html", "feature_request": "feature_requests.html"}
PATHS = {"incident": "/report", "bug_report": "/report/bug", "feature_request": "/feature-requests"}
FEATURES_SHOWN = 50


def severity_choices(request: Request) -> list[dict[str, Any]]:
    """Return each severity with KB-005's signs and its response and resolution allowances (from the service levels)."""
    policy = request.app.state.sla
    choices = []
    for severity in Severity:
        response, resolution = policy.allowance(severity, "response"), policy.allowance(severity, "resolution")
        choices.append({"value": severity.value, "label": fmt.severity_label(severity.value),
                        "signs": fmt.SEVERITY_SIGNS[severity],
                        "response": response.describe() if response else "", "resolution":
                        resolution.describe() if resolution else ""})
    return choices


async def feature_rows(request: Request, query: str, voter_id: str) -> list[dict[str, Any]]:
    """Return open feature requests matching the words of query (all when empty), most votes first, with the
    person's own votes marked: read from the four feature-request view documents and one vote document each."""
    state = request.app.state
    entries = await state.views.feature_entries()
    if query.strip():
        wanted = TicketFilter(q=query)
        entries = [e for e in entries if wanted.admits(e)]
    entries.sort(key=lambda e: (e.get("votes", 0), e["id"]), reverse=True)
    entries = entries[:FEATURES_SHOWN]
    voted = await state.votes.voted([e["id"] for e in entries], voter_id)
    return [{**entry, "voted": entry["id"] in voted} for entry in entries]


async def _form_page(request: Request, kind: str, *, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    portal = portal_of(request)
    person = await portal.require_person(request)
    context: dict[str, Any] = {
        "kind": kind, "values": values or {}, "errors": errors or {}, "field_names": FIELD_NAMES,
        "types": [(t.value, fmt.TYPE_LABELS[t.value], fmt.TYPE_HINTS[t.value]) for t in IncidentType],
        "severities": severity_choices(request), "form_id": secrets.token_urlsafe(16), "action": PATHS[kind]}
    if kind == "feature_request":
        query = request.query_params.get("q", "")[:100]
        context.update(query=query, features=await feature_rows(request, query, person.id),
                       voted_now=request.query_params.get("voted"))
    return await portal.render(request, FORMS[kind], context, status=status)


@router.get("/report")
async def report_page(request: Request) -> Response:
    """Report Issue."""
    return await _form_page(request, "incident")


@router.get("/report/bug")
async def bug_page(request: Request) -> Response:
    """Bug Report: expected and actual behaviour, steps, screenshots."""
    return await _form_page(request, "bug_report")


@router.get("/feature-requests")
async def features_page(request: Request) -> Response:
    """Feature Request: search the existing requests and vote, or file a new one."""
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "feature-list":
        portal = portal_of(request)
        person = await portal.require_person(request)
        query = request.query_params.get("q", "")[:100]
        return await portal.render(request, "_feature_list.html", {
            "features": await feature_rows(request, query, person.id), "query": query, "voted_now": None})
    return await _form_page(request, "feature_request")


async def _submit(request: Request, kind: str) -> Response:
    """Validate a posted report with the API's rules, store it, attach its files, and show the new ticket."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    state = request.app.state
    settings = state.settings
    form = await portal.checked_form(request, max_files=settings.portal_files_per_submit)
    values = {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}
    report, errors = validate_report(report_body(form, kind=kind, client_ip=client_address(request)))
    files, problems = await read_uploads(uploads(form), allowed_types=settings.attachment_types,
                                         max_bytes=settings.max_attachment_bytes,
                                         max_files=settings.portal_files_per_submit)
    if problems:
        errors["files"] = "; ".join(problems)
    if report is None or errors:
        return await _form_page(request, kind, values=values, errors=errors, status=422)
    fields = report.to_fields()
    form_id = text(form, "form_id", 40)
    key = f"portal:{form_id}" if form_id else None
    if key is not None:  # a second click on Submit shows the first ticket instead of opening another
        body_hash = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
        previous = await state.idempotency.begin(person.id, key, body_hash, state.clock.now())
        if previous is not None and previous["body_hash"] == body_hash and previous.get("state") == "done":
            return portal.redirect(f"/tickets/{previous['body']['number']}?created=1")
        if previous is not None and previous["body_hash"] == body_hash:
            return await _form_page(request, kind, values=values, status=409, errors={
                "form": "This report is being sent already; find it under My Tickets in a moment."})
        if previous is not None:  # the same page sent again with other values: a report of its own
            key = None
    try:
        document = await report_as(person, fields, tickets=state.tickets, clock=state.clock,
                                   prefix=settings.ticket_prefix)
    except ActionRefused as exc:
        if key is not None:
            await state.idempotency.abandon(person.id, key)
        return await _form_page(request, kind, values=values, errors={"form": str(exc)}, status=403)
    if key is not None:
        await state.idempotency.finish(person.id, key, 303, {"number": document["number"]}, {})
    for name, content_type, data in files:
        try:
            await accept_attachment(document, actor_of(person), name, content_type, data,
                                    allowed_types=settings.attachment_types, max_bytes=settings.max_attachment_bytes,
                                    tickets=state.tickets, attachments=state.attachments, clock=state.clock)
        except AttachmentRefused:
            break  # checked above; only a full ticket (200 files) gets here
    return portal.redirect(f"/tickets/{document['number']}?created=1")


@router.post("/report")
async def submit_report(request: Request) -> Response:
    """Open an issue from the Report Issue form."""
    return await _submit(request, "incident")


@router.post("/report/bug")
async def submit_bug(request: Request) -> Response:
    """Open a bug report."""
    return await _submit(request, "bug_report")


@router.post("/feature-requests")
async def submit_feature(request: Request) -> Response:
    """File a feature request."""
    return await _submit(request, "feature_request")


@router.post("/feature-requests/{number}/vote")
async def vote(request: Request, number: str) -> Response:
    """One click, one vote per person; the list shows the new count."""
    portal = portal_of(request)
    person = await portal.require_person(request)
    form = await portal.checked_form(request)
    state = request.app.state
    query = text(form, "q", 100)
    try:
        await cast_vote(number[:20], person, tickets=state.tickets, votes=state.votes, clock=state.clock)
        outcome = number[:20]
    except (NoSuchRequest, VoteRefused):
        outcome = ""
    if request.headers.get("HX-Request"):
        return await portal.render(request, "_feature_list.html", {
            "features": await feature_rows(request, query, person.id), "query": query, "voted_now": outcome})
    return portal.redirect("/feature-requests?" + urlencode({"voted": outcome, **({"q": query} if query else {})})
                           + "#requests")
