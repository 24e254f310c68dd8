"""The Help button: a script host pages include, and the sign-in its iframe uses when the host vouches for its user.

The host platform adds one tag, `<script src="PORTAL/static/widget.js" data-user-token="..." defer>`.
With a token (HS256, signed with WIDGET_SECRET, see service_layer/sign_in.py) the panel posts it
here and the person is signed in without an e-mail; without one the panel shows the e-mail sign-in.
This endpoint takes no CSRF token: the host page cannot have one, and the signed, single-use,
short-lived token is what proves the request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.entrypoints.portal_web import local_path, portal_of, sign_in_url
from services.intake.service_layer import sign_in
from services.intake.service_layer.sign_in import HostTokenRefused

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 8 * 1024


@router.post("/embed/sign-in")
async def embed_sign_in(request: Request) -> Response:
    """Sign in the host's user named by its token, then show the page the Help menu asked for."""
    portal = portal_of(request)
    try:
        form = await request.form(max_files=0, max_fields=5, max_part_size=MAX_FORM_BYTES)
    except Exception:
        form = {}
    next_path = local_path(str(form.get("next") or ""), "/report")
    state = request.app.state
    now = state.clock.now()
    try:
        claims = sign_in.verify_host_token(str(form.get("token") or ""), rules=state.sign_in_rules, now=now)
        current = await portal.person(request)
        if current is not None and current.email == claims.email:  # signed in already: the token is not spent
            return portal.redirect(next_path)
        session_id, _ = await sign_in.host_sign_in(claims, tokens=state.sign_in_tokens, api_keys=state.api_keys,
                                                   sessions=state.web_sessions, rules=state.sign_in_rules,
                                                   clock=state.clock)
    except HostTokenRefused as exc:
        return await portal.render(request, "sign_in.html", {
            "next_path": next_path, "email": "",
            "error": f"The platform could not sign you in ({exc}). Sign in with your e-mail instead."}, status=401)
    previous = request.cookies.get("incidents_session")
    if previous:
        await state.web_sessions.end(previous)
    response = portal.redirect(next_path)
    portal.set_session(response, session_id)
    return response


@router.get("/embed")
async def embed_start(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    """Where the panel opens without a token: the page if signed in, else the e-mail sign-in."""
    portal = portal_of(request)
    target = local_path(next, "/report")
    if await portal.person(request) is not None:
        return portal.redirect(target)
    return portal.redirect(sign_in_url(target))
