"""Bearer API-key authentication and per-key rate limiting for every intake route.

The caller is proven before anything else happens to a request: AuthenticateFirst checks the key
of every /v1 request before its body is read (a request with a bad key costs no parsing), and an
address that keeps presenting bad keys is answered 429 without a database lookup for a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.domain.principals import Principal
from services.intake.entrypoints.ratelimit import retry_after_header
from services.intake.service_layer.commands import actor_of  # noqa: F401 - the routes' import path
from shared.problems import Problem, problem_response

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="incidents"'}


async def principal_for(header: str, api_keys: Any) -> Principal:
    """Return the principal of an `Authorization: Bearer <key>` header; raise a 401 Problem if it proves nobody."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=CHALLENGE)
    principal = await api_keys.authenticate(key.strip())
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is not valid, has expired or has been revoked",
                      headers=CHALLENGE)
    return principal


async def authenticated(request: Request) -> Principal:
    """Return the caller for a valid `Authorization: Bearer <key>` within its rate, else 401 or 429."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = await principal_for(request.headers.get("authorization", ""), request.app.state.api_keys)
    wait = request.app.state.rate_limiter.take(principal.id)
    if wait > 0:
        raise Problem(429, "Too many requests", f"rate limit for this key exceeded; retry in {wait:.1f} s",
                      headers=retry_after_header(wait))
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


class FailedAuthentications:
    """Per-address count of bad keys: after `limit` within `window_seconds` the address waits out the window."""

    def __init__(self, limit: int, window_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._monotonic = monotonic
        self._failures: dict[str, list[float]] = {}

    def wait(self, address: str) -> float:
        """Return the seconds this address must wait before its next attempt (0: it may try)."""
        recent = self._recent(address)
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, recent[0] + self.window - self._monotonic())

    def failed(self, address: str) -> None:
        """Record a bad key from this address."""
        self._failures[address] = [*self._recent(address), self._monotonic()][-self.limit:]
        if len(self._failures) > 10_000:
            for key in [k for k in self._failures if not self._recent(k)]:
                del self._failures[key]

    def _recent(self, address: str) -> list[float]:
        """Return the failure times of an address within the window, oldest first."""
        cutoff = self._monotonic() - self.window
        return [t for t in self._failures.get(address, []) if t > cutoff]


class AuthenticateFirst:
    """ASGI middleware: proves the caller of every request under `prefix` before the app reads its body."""

    def __init__(self, app: ASGIApp, *, state: Any, failures: FailedAuthentications, prefix: str = "/v1/") -> None:
        self.app = app
        self.state = state
        self.failures = failures
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        wait = self.failures.wait(address)
        if wait > 0:
            await problem_response(429, "Too many requests",
                                   f"too many requests with a bad API key from {address}; retry in {wait:.0f} s",
                                   instance=scope.get("path"), headers=retry_after_header(wait))(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        try:
            principal = await principal_for(headers.get("authorization", ""), self.state.api_keys)
        except Problem as problem:
            self.failures.failed(address)
            await problem_response(problem.status, problem.title, problem.detail, instance=scope.get("path"),
                                   headers=problem.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
