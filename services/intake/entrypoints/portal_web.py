"""The portal's plumbing: templates, the signed-in person, CSRF checks, cookies and security headers.

Pages are server-rendered Jinja2 (autoescaped) and work without JavaScript; htmx (vendored, no
build step) makes some parts update in place. Every state-changing request carries a CSRF token
checked by fastapi-csrf-protect (double submit: a signed cookie and the same token in the form or
the X-CSRF-Token header). Sessions are server-side (adapters/web_sessions.py); the cookie holds
only a random id and is HttpOnly, SameSite=Lax, and Secure when the portal is served over https.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi_csrf_protect.exceptions import CsrfProtectError
from fastapi_csrf_protect.flexible import CsrfProtect
from itsdangerous import BadData, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from services.intake.domain.actions import FEATURE_STATUS_LABELS
from services.intake.domain.principals import Principal
from services.intake.domain.timeline_words import notice_name, status_label
from services.intake.entrypoints import portal_format as fmt
from services.intake.settings import IntakeSettings

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
HTMX = "htmx-2.0.11.min.js"
"""htmx from the npm package htmx.org 2.0.11 (0BSD), served from /static; no CDN."""
SESSION_COOKIE = "incidents_session"
CSRF_COOKIE = "incidents_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_SALT = "fastapi-csrf-token"
"""The salt fastapi-csrf-protect signs its cookie with; reading the token back keeps one token per browser, so
pages open in several tabs all stay valid (tests/unit/test_portal_web.py checks it against the library)."""


_UNKNOWN = object()


class PageError(Exception):
    """A page to answer with instead: status, title and what to do (rendered as HTML, never JSON)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequired(Exception):
    """The page needs a signed-in person; they are sent to sign in and brought back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A state-changing request without a valid CSRF token."""


def local_path(value: str | None, default: str = "/tickets") -> str:
    """Return value if it is a path on this site (no scheme, host or `//`), else default: no open redirects."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in value):
        return default
    return value[:500]


def csrf_protect_for(settings: IntakeSettings) -> CsrfProtect:
    """Return a CsrfProtect configured for this app alone (its config lives on a class made for it)."""
    protect_class = type("PortalCsrfProtect", (CsrfProtect,), {})
    protect_class.load_config(lambda: [
        ("secret_key", settings.portal_secret), ("cookie_key", CSRF_COOKIE), ("cookie_samesite", "lax"),
        ("cookie_secure", settings.secure_cookies), ("httponly", True), ("header_name", CSRF_HEADER),
        ("max_age", int(settings.session_hours * 3600)), ("token_key", CSRF_FIELD),
    ])
    return protect_class()


class Portal:
    """Renders pages and checks who is asking; built once per app in bootstrap."""

    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self.csrf = csrf_protect_for(settings)
        self._serializer = URLSafeTimedSerializer(settings.portal_secret, salt=CSRF_SALT)
        escaping = select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=escaping,
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(fmt=fmt, notice_name=notice_name, htmx=HTMX, hotline=settings.support_hotline, feature_labels=FEATURE_STATUS_LABELS,
                                critical_channel=settings.critical_channel, portal_url=settings.portal_url)
        self.env.filters.update(iso=fmt.iso, utc=fmt.utc_words, status_label=status_label,
                                severity_label=fmt.severity_label, duration=fmt.duration)
        ancestors = " ".join(["'self'", *settings.frame_origins])
        self.content_security_policy = (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            f"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}")

    # -- who is asking -------------------------------------------------------------------------

    async def person(self, request: Request) -> Principal | None:
        """Return the signed-in person of this request, or None (looked up once per request)."""
        known = getattr(request.state, "person", _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        session_id = request.cookies.get(SESSION_COOKIE, "")
        state = request.app.state
        person = await state.web_sessions.principal(session_id, state.clock.now()) if session_id else None
        request.state.person = person
        return person

    async def require_person(self, request: Request) -> Principal:
        """Return the signed-in person; raise SignInRequired (they come back here after signing in)."""
        person = await self.person(request)
        if person is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(local_path(target))
        return person

    # -- CSRF ----------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> tuple[str, str | None]:
        """Return this browser's CSRF token and, when it has no valid cookie yet, the signed cookie value to set."""
        signed = request.cookies.get(CSRF_COOKIE)
        if signed:
            try:
                return self._serializer.loads(signed, max_age=int(self.settings.session_hours * 3600)), None
            except BadData:
                pass
        token, signed = self.csrf.generate_csrf_tokens()
        return token, signed

    async def checked_form(self, request: Request, *, max_files: int = 0) -> FormData:
        """Return the posted form once its CSRF token (field or header) matches the cookie; raise CsrfRefused."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise CsrfRefused("a form was expected")
        try:
            form = await request.form(max_files=max_files, max_fields=100, max_part_size=64 * 1024)
        except Exception as exc:  # malformed multipart, too many parts: refused, never a 500
            raise PageError(400, "The form could not be read", f"Send the form again from the page ({exc}).") from exc
        if isinstance(form.get(CSRF_FIELD), str) or request.headers.get(CSRF_HEADER):
            try:
                await self.csrf.validate_csrf(request)
                return form
            except CsrfProtectError:
                pass
            except Exception:  # the library's own parsing errors count as a refusal too
                pass
        raise CsrfRefused("missing or wrong CSRF token")

    # -- responses -----------------------------------------------------------------------------

    async def render(self, request: Request, template: str, context: dict[str, Any] | None = None, *,
                     status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
        """Return a page: the template with the person, the CSRF token and the portal's settings, secured."""
        token, new_cookie = self.csrf_token(request)
        person = await self.person(request)
        html = self.env.get_template(template).render(
            request=request, person=person, csrf_token=token, csrf_field=CSRF_FIELD, now=request.app.state.clock.now(),
            **(context or {}))
        response = HTMLResponse(html, status_code=status, headers=headers)
        if new_cookie is not None:
            self.csrf.set_csrf_cookie(new_cookie, response)
        return self.secured(response)

    def secured(self, response: Response) -> Response:
        """Add the portal's security headers: CSP (who may frame it), no sniffing, no caching of private pages."""
        response.headers.setdefault("Content-Security-Policy", self.content_security_policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def redirect(self, path: str) -> Response:
        """Return a 303 to a local path (after a POST, the browser GETs the result)."""
        return self.secured(RedirectResponse(local_path(path, "/tickets"), status_code=303))

    def set_session(self, response: Response, session_id: str) -> None:
        """Give the browser its session cookie: HttpOnly, SameSite=Lax, Secure behind TLS."""
        response.set_cookie(SESSION_COOKIE, session_id, max_age=int(self.settings.session_hours * 3600), path="/",
                            httponly=True, samesite="lax", secure=self.settings.secure_cookies)

    def clear_session(self, response: Response) -> None:
        """Remove the session cookie from the browser."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=self.settings.secure_cookies)


def sign_in_url(next_path: str) -> str:
    """Return the sign-in page that brings the person back to next_path."""
    return "/sign-in?next=" + quote(local_path(next_path), safe="/")


def portal_of(request: Request) -> Portal:
    """Return the app's portal."""
    return request.app.state.portal


def now_of(request: Request) -> datetime:
    """Return the app clock's now."""
    return request.app.state.clock.now()
