"""RFC 9457 problem+json responses and the exception handlers that produce them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://incidents.local/problems/"


class Problem(Exception):
    """An error to send as problem+json: status, short title, and a detail that says what to fix."""

    def __init__(self, status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str, *, instance: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Return a problem+json response."""
    slug = title.lower().replace(" ", "-")
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def describe_validation_errors(errors: list[dict[str, Any]], limit: int = 5) -> str:
    """Return one readable sentence naming the first invalid fields and what is wrong with each."""
    parts = []
    for error in errors[:limit]:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(location) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


MAX_ERRORS_SHOWN = 20
"""Validation errors listed in a 422: a body with 60,000 unknown keys must not get a 5 MB answer."""
MAX_LOCATION_PART = 64


def validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """Return one validation error as shown to the client: where (names cut to 64 characters), what and its type."""
    location = [part if not isinstance(part, str) or len(part) <= MAX_LOCATION_PART
                else part[:MAX_LOCATION_PART] + "…" for part in error.get("loc", ())]
    return {"loc": location, "msg": str(error.get("msg", ""))[:300], "type": error.get("type", "")}


def _more(total: int) -> str:
    """Return the note that more errors exist than the 422 lists."""
    return f" ({total} errors in all; the first {MAX_ERRORS_SHOWN} are listed)" if total > MAX_ERRORS_SHOWN else ""


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app returns a problem+json document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.title, exc.detail, instance=request.url.path, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        errors = [validation_error(e) for e in found[:MAX_ERRORS_SHOWN]]
        return problem_response(
            422, "Invalid request", describe_validation_errors(errors) + _more(len(found)), instance=request.url.path,
            errors=errors, errors_total=len(found),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, "HTTP error"
        )
        return problem_response(
            exc.status_code, title, str(exc.detail), instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"x_path": request.url.path})
        return problem_response(
            500, "Internal error", "The server failed to handle this request; it has been logged.", instance=request.url.path
        )
