"""Signing in to the portal with a one-time e-mail link, and signing out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.entrypoints.portal_web import (
    CsrfRefused,
    PageError,
    SignInRequired,
    local_path,
    portal_of,
    sign_in_url,
)
from services.intake.service_layer import sign_in
from services.intake.service_layer.sign_in import LinkRefused, TooManyRequests

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

REFUSALS = {
    "used": ("This sign-in link was already used",
             "Each link signs in once. If that was not you, nothing is lost: ask for a new link below."),
    "expired": ("This sign-in link has expired",
                "Links work for {minutes} minutes. Ask for a new one below; it arrives within a minute."),
    "unknown": ("This sign-in link is not valid",
                "Copy the whole link from the e-mail, or ask for a new one below."),
    "no_access": ("This address cannot sign in here",
                  "Ask support to give your address access to the portal, or e-mail {support} to report an issue."),
}


class BackgroundSends:
    """Runs sign-in e-mails after the answer is sent, keeping a reference until each is done."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()

    def __call__(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Wait for the sends in flight (tests; shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


def client_address(request: Request) -> str:
    """Return the address the request came from (the peer of the connection)."""
    return (request.client.host if request.client else None) or "unknown"


def compose_link_mail(request: Request):
    """Return a composer of the sign-in e-mail from the portal's templates."""
    env = portal_of(request).env

    def compose(link: str, minutes: int) -> tuple[str, str, str]:
        context = {"link": link, "minutes": minutes}
        return ("Your sign-in link for the support portal",
                env.get_template("mail/sign_in.txt").render(**context),
                env.get_template("mail/sign_in.html").render(**context))

    return compose


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    """The sign-in form: an e-mail address, and a link arrives by e-mail."""
    portal = portal_of(request)
    if await portal.person(request) is not None:
        return portal.redirect(local_path(next))
    return await portal.render(request, "sign_in.html", {"next_path": local_path(next), "email": "", "error": None})


@router.post("/sign-in")
async def send_link(request: Request) -> Response:
    """Send a sign-in link if the address may sign in; the answer is the same either way."""
    portal = portal_of(request)
    form = await portal.checked_form(request)
    next_path = local_path(str(form.get("next") or ""))
    raw = str(form.get("email") or "")[:300]
    email = sign_in.valid_email(raw)
    if email is None:
        return await portal.render(request, "sign_in.html", {
            "next_path": next_path, "email": raw,
            "error": "Enter your e-mail address, e.g. ada@example.com."}, status=422)
    state = request.app.state
    try:
        await sign_in.request_link(email, next_path, client_address(request), tokens=state.sign_in_tokens,
                                   api_keys=state.api_keys, mailer=state.mailer, compose=compose_link_mail(request),
                                   rules=state.sign_in_rules, clock=state.clock, spawn=state.background_sends)
    except TooManyRequests as exc:
        return await portal.render(request, "sign_in.html", {"next_path": next_path, "email": raw, "error": str(exc)},
                                   status=429, headers={"Retry-After": "3600"})
    return await portal.render(request, "sign_in_sent.html", {"email": email,
                                                              "minutes": state.settings.sign_in_link_minutes})


@router.get("/sign-in/link")
async def confirm_link(request: Request, token: str = "") -> Response:
    """The page a sign-in link opens: one button that signs in (a mail scanner's GET uses nothing up)."""
    portal = portal_of(request)
    record = await request.app.state.sign_in_tokens.peek(token)
    if record is None or record.get("used_at") or record["expires_at"] <= request.app.state.clock.now():
        why = "unknown" if record is None else "used" if record.get("used_at") else "expired"
        return await refused_link(request, why)
    return await portal.render(request, "sign_in_link.html", {"token": token, "email": record["email"]},
                               headers={"Referrer-Policy": "no-referrer"})


@router.post("/sign-in/link")
async def use_link(request: Request) -> Response:
    """Use the link once: start a session and go where the person was going."""
    portal = portal_of(request)
    form = await portal.checked_form(request)
    state = request.app.state
    try:
        session_id, next_path, _ = await sign_in.redeem_link(
            str(form.get("token") or ""), tokens=state.sign_in_tokens, api_keys=state.api_keys,
            sessions=state.web_sessions, rules=state.sign_in_rules, clock=state.clock)
    except LinkRefused as exc:
        return await refused_link(request, exc.why)
    previous = request.cookies.get("incidents_session")
    if previous:
        await state.web_sessions.end(previous)
    response = portal.redirect(next_path)
    portal.set_session(response, session_id)
    return response


async def refused_link(request: Request, why: str) -> Response:
    """Answer a link that does not sign in with a page that says what happened and what to do."""
    settings = request.app.state.settings
    title, message = REFUSALS[why]
    return await portal_of(request).render(request, "sign_in_refused.html", {
        "title": title, "message": message.format(minutes=settings.sign_in_link_minutes,
                                                  support=settings.support_address),
        "next_path": "/tickets", "email": ""}, status=410 if why in ("used", "expired") else 400)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End this browser's session (it stops working on the server at once) and forget the cookie."""
    portal = portal_of(request)
    await portal.checked_form(request)
    session_id = request.cookies.get("incidents_session")
    if session_id:
        await request.app.state.web_sessions.end(session_id)
    response = portal.redirect("/sign-in?signed_out=1")
    portal.clear_session(response)
    return response


def install_handlers(app: Any) -> None:
    """Answer the portal's own exceptions with pages (never JSON)."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": sign_in_url(exc.next_path)})
        return portal_of(request).redirect(sign_in_url(exc.next_path))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return await portal_of(request).render(request, "error.html", {
            "title": "This form has expired",
            "message": "The form was not sent from an open page of this site, or the page is too old. "
                       "Go back, reload the page and send it again."}, status=403)

    @app.exception_handler(PageError)
    async def _page(request: Request, exc: PageError) -> Response:
        return await portal_of(request).render(request, "error.html", {"title": exc.title, "message": exc.message},
                                               status=exc.status)
