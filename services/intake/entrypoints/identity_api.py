"""Who am I: the identity behind an API key, for callers and for the other services (intake owns identities)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import PROBLEMS

router = APIRouter(prefix="/v1", tags=["identity"])


class IdentityView(BaseModel):
    """The authenticated caller."""

    id: str
    role: str
    name: str
    email: str | None = None


@router.get("/me", response_model=IdentityView, responses=PROBLEMS)
async def me(caller: Caller) -> IdentityView:
    """Return who the presented API key belongs to and its role; other services use it to check keys."""
    return IdentityView(id=caller.id, role=caller.role.value, name=caller.name, email=caller.email)
