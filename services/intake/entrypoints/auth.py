"""Bearer API-key authentication and per-key rate limiting for every intake route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.domain.principals import Principal
from services.intake.entrypoints.ratelimit import retry_after_header
from shared.contracts.lifecycle_events import Actor
from shared.problems import Problem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="incidents"'}


async def authenticated(request: Request) -> Principal:
    """Return the caller for a valid `Authorization: Bearer <key>` within its rate, else 401 or 429."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=CHALLENGE)
    principal = await request.app.state.api_keys.authenticate(key.strip())
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is not valid or has been revoked", headers=CHALLENGE)
    wait = request.app.state.rate_limiter.take(principal.id)
    if wait > 0:
        raise Problem(429, "Too many requests", f"rate limit for this key exceeded; retry in {wait:.1f} s",
                      headers=retry_after_header(wait))
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def actor_of(principal: Principal) -> Actor:
    """Return the timeline/event actor for an authenticated caller."""
    return Actor(type=principal.role.value, id=principal.id, name=principal.name)
