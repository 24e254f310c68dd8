"""Bearer API-key authentication for every intake route."""

from __future__ import annotations

from fastapi import Request

from shared.problems import Problem
from services.intake.domain.principals import Principal

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="incidents"'}


async def authenticated(request: Request) -> Principal:
    """Return the caller for a valid `Authorization: Bearer <key>` header, else raise 401."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=CHALLENGE)
    principal = await request.app.state.api_keys.authenticate(key.strip())
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is not valid or has been revoked", headers=CHALLENGE)
    return principal
