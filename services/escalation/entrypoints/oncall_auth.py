"""Who is calling escalation's on-call API: the same API keys as intake, checked by asking intake (`GET /v1/me`).

Agents and admins read on-call and manage overrides (swapping shifts is everyday work); only admins change
people, schedules and policies. Reporters and vendors are refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.identities import Identity, IdentityUnavailable
from shared.problems import Problem, problem_response

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="incidents"'}
STAFF = ("agent", "admin")


async def identify(header: str, identities) -> Identity:
    """Return who holds the key of an `Authorization: Bearer <key>` header; raise a 401/503 Problem otherwise."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=CHALLENGE)
    if identities is None:
        raise Problem(503, "Not ready", "escalation has not started yet", headers={"Retry-After": "5"})
    try:
        identity = await identities.identity_of(key.strip())
    except IdentityUnavailable as exc:
        raise Problem(503, "Identity service unavailable", f"cannot check the API key right now ({exc}); retry",
                      headers={"Retry-After": "5"}) from exc
    if identity is None:
        raise Problem(401, "Unauthorized", "the API key is not valid, has expired or has been revoked",
                      headers=CHALLENGE)
    return identity


async def caller(request: Request) -> Identity:
    """Return who holds the presented API key (proved by IdentifyFirst before the body was read)."""
    identity = getattr(request.state, "identity", None)
    if identity is None:
        identity = await identify(request.headers.get("authorization", ""),
                                  getattr(request.app.state, "identities", None))
    return identity


class IdentifyFirst:
    """ASGI middleware: proves the caller of every request under `prefix` before the app reads its body."""

    def __init__(self, app: ASGIApp, *, state, prefix: str = "/v1/") -> None:
        self.app = app
        self.state = state
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            identity = await identify(headers.get("authorization", ""), getattr(self.state, "identities", None))
        except Problem as problem:
            await problem_response(problem.status, problem.title, problem.detail, instance=scope.get("path"),
                                   headers=problem.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


async def staff(identity: Annotated[Identity, Depends(caller)]) -> Identity:
    """Return the caller if an agent or admin, else 403."""
    if identity.role not in STAFF:
        raise Problem(403, "Forbidden", "on-call schedules are for support agents and admins")
    return identity


async def admin(identity: Annotated[Identity, Depends(caller)]) -> Identity:
    """Return the caller if an admin, else 403."""
    if identity.role != "admin":
        raise Problem(403, "Forbidden", "only admins change people, schedules and policies (agents may add overrides)")
    return identity


Staff = Annotated[Identity, Depends(staff)]
Admin = Annotated[Identity, Depends(admin)]


def actor(identity: Identity) -> str:
    """Return how a change records who made it."""
    return f"{identity.role}:{identity.id} ({identity.name})"
