"""The console's admin pages (`/console/admin`): people and their roles, API keys (issue, revoke), and the
triage rules, escalation policy and notification routing as the running services loaded them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.intake.adapters.service_calls import ServiceUnavailable
from services.intake.domain.principals import Role
from services.intake.entrypoints.admin_api import KeyCreate, KeyId
from services.intake.entrypoints.console_web import field, instant, require_admin
from services.intake.entrypoints.portal_web import portal_of
from services.intake.service_layer import access
from services.intake.service_layer.access import AccessRefused

router = APIRouter(include_in_schema=False)
SHORTCUTS = (("g", "Back to the queue"), ("?", "Show these shortcuts"))
CONFIG_SERVICES = (("triage", "Triage rules"), ("escalation", "Escalation policy"), ("notifier", "Notification routing"))
DONE = {"revoked": "The key was revoked: its next request is refused.",
        "person": "Every key and portal session of that person was turned off."}


async def admin_context(request: Request, **extra: Any) -> dict[str, Any]:
    """Return the people, their keys and the key form."""
    keys = await request.app.state.api_keys.list()
    return {"people": access.people(keys), "keys": keys, "roles": [r.value for r in Role], "shortcuts": SHORTCUTS,
            "issued": None, "error": None, "values": {}, "notice": None, **extra}


@router.get("/console/admin")
async def admin_page(request: Request) -> Response:
    """People and roles, and every API key."""
    await require_admin(request)
    notice = DONE.get(request.query_params.get("done") or "")
    return await portal_of(request).render(request, "console/admin.html", await admin_context(request, notice=notice))


@router.post("/console/admin/keys")
async def issue_key(request: Request) -> Response:
    """Issue a key; the page shows it this once (it is stored only as a hash)."""
    person = await require_admin(request)
    portal = portal_of(request)
    form = await portal.checked_form(request)
    state = request.app.state
    now = state.clock.now()
    values = {name: field(form, name, 200) for name in ("role", "name", "email", "vendor_id", "expires_in_days")}
    days = values["expires_in_days"]
    try:
        if days and (not days.isdigit() or not 1 <= int(days) <= 3650):
            raise AccessRefused(422, "expires in: a number of days from 1 to 3650, or empty for never")
        body = KeyCreate.model_validate({"role": values["role"], "name": values["name"],
                                         "email": values["email"] or None, "vendor_id": values["vendor_id"] or None,
                                         "expires_at": now + timedelta(days=int(days)) if days else None})
        issued = await access.issue_key(person, body.role, body.name, body.email, body.expires_at, body.vendor_id,
                                        api_keys=state.api_keys, now=now)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}"
                             for e in exc.errors(include_url=False, include_input=False))
        return await portal.render(request, "console/admin.html",
                                   await admin_context(request, error=problems, values=values), status=422)
    except AccessRefused as exc:
        return await portal.render(request, "console/admin.html",
                                   await admin_context(request, error=str(exc), values=values), status=exc.status)
    state.staff_directory.forget()
    return await portal.render(request, "console/admin.html", await admin_context(request, issued=issued))


@router.post("/console/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: KeyId) -> Response:
    """Revoke one key."""
    person = await require_admin(request)
    portal = portal_of(request)
    await portal.checked_form(request)
    state = request.app.state
    try:
        await access.revoke_key(person, key_id, api_keys=state.api_keys, now=state.clock.now())
    except AccessRefused as exc:
        return await portal.render(request, "console/admin.html", await admin_context(request, error=str(exc)),
                                   status=exc.status)
    state.staff_directory.forget()
    return portal.redirect("/console/admin?done=revoked")


@router.post("/console/admin/people/{principal_id}/revoke")
async def revoke_person(request: Request, principal_id: KeyId) -> Response:
    """Turn off every key and portal session of one person."""
    person = await require_admin(request)
    portal = portal_of(request)
    await portal.checked_form(request)
    state = request.app.state
    try:
        await access.revoke_person(person, principal_id, api_keys=state.api_keys, sessions=state.web_sessions,
                                   now=state.clock.now())
    except AccessRefused as exc:
        return await portal.render(request, "console/admin.html", await admin_context(request, error=str(exc)),
                                   status=exc.status)
    state.staff_directory.forget()
    return portal.redirect("/console/admin?done=person")


async def _loaded(request: Request, service: str) -> dict[str, Any]:
    """Return what one service says it loaded, or why it could not say."""
    try:
        files = (await request.app.state.service_calls.loaded_config(service)).get("files") or []
        return {"files": [{**f, "loaded_at": instant(f.get("loaded_at"))} for f in files if isinstance(f, dict)],
                "problem": None}
    except ServiceUnavailable as exc:
        return {"files": [], "problem": str(exc)}


@router.get("/console/admin/config")
async def configuration(request: Request) -> Response:
    """The triage rules, escalation policy and notification routing as each running service loaded them."""
    await require_admin(request)
    answers = await asyncio.gather(*(_loaded(request, service) for service, _ in CONFIG_SERVICES))
    sections = [{"service": service, "title": title, **answer}
                for (service, title), answer in zip(CONFIG_SERVICES, answers, strict=True)]
    return await portal_of(request).render(request, "console/config.html", {"sections": sections,
                                                                           "shortcuts": SHORTCUTS})
