"""Key and user management for admins: everything an agent may do, plus issuing and revoking access."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.adapters.api_keys import key_id_of
from services.intake.domain.principals import Principal, Role
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import TICKET_PROBLEMS
from shared.contracts.addresses import EmailAddress
from shared.problems import Problem

router = APIRouter(prefix="/v1/admin", tags=["admin"])
KeyId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]


class KeyView(BaseModel):
    """An API key as admins see it: never the key itself."""

    key_id: str
    principal_id: str
    role: Role
    name: str
    email: str | None = None
    vendor_id: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    state: str = Field(description="active, expired or revoked")
    has_key: bool = Field(description="false for identities made by e-mail intake, which have no key")


class KeyCreate(BaseModel):
    """A key to issue."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str = Field(min_length=1, max_length=100)
    email: EmailAddress | None = None
    expires_at: AwareDatetime | None = Field(default=None, description="when the key stops working")
    vendor_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$",
                                  description="required for role vendor: the vendor whose hand-offs the key sees")


class IssuedKey(BaseModel):
    """A new key: shown once, stored only as a hash."""

    key: str
    key_id: str
    principal_id: str


class Revoked(BaseModel):
    """How many keys a revocation turned off."""

    principal_id: str
    revoked: int


def require_admin(caller: Principal) -> None:
    """Refuse anyone but an admin with 403."""
    if not caller.is_admin:
        raise Problem(403, "Forbidden", "only admins manage keys and users")


@router.get("/keys", response_model=list[KeyView], responses=TICKET_PROBLEMS)
async def list_keys(caller: Caller, request: Request, role: Role | None = None) -> list[dict[str, Any]]:
    """Every key and e-mail identity, newest first (admins)."""
    require_admin(caller)
    return await request.app.state.api_keys.list(role)


@router.post("/keys", status_code=201, response_model=IssuedKey, responses=TICKET_PROBLEMS)
async def issue_key(body: KeyCreate, caller: Caller, request: Request) -> IssuedKey:
    """Issue a key (admins); the key is in this response only."""
    require_admin(caller)
    if (body.role is Role.VENDOR) != (body.vendor_id is not None):
        raise Problem(422, "Invalid request", "vendor_id is required for role vendor and only for it")
    state = request.app.state
    now = state.clock.now()
    if body.expires_at is not None and body.expires_at <= now:
        raise Problem(422, "Invalid request", "expires_at must be in the future")
    key, principal = await state.api_keys.create(body.role, body.name, body.email, now, expires_at=body.expires_at,
                                                 vendor_id=body.vendor_id)
    return IssuedKey(key=key, key_id=key_id_of(key), principal_id=principal.id)


@router.post("/keys/{key_id}/revoke", response_model=KeyView, responses=TICKET_PROBLEMS)
async def revoke_key(key_id: KeyId, caller: Caller, request: Request) -> dict[str, Any]:
    """Revoke one key at once (admins); the key's next request is 401."""
    require_admin(caller)
    revoked = await request.app.state.api_keys.revoke(key_id, request.app.state.clock.now())
    if revoked is None:
        raise Problem(404, "Not found", f"no key {key_id}")
    return revoked


@router.post("/users/{principal_id}/revoke", response_model=Revoked, responses=TICKET_PROBLEMS)
async def revoke_user(principal_id: KeyId, caller: Caller, request: Request) -> Revoked:
    """Turn off every key of one user (admins), for someone who left or a leaked key of unknown id."""
    require_admin(caller)
    if principal_id == caller.id:
        raise Problem(409, "Conflict", "revoke your own keys from another admin's account")
    count = await request.app.state.api_keys.revoke_principal(principal_id, request.app.state.clock.now())
    await request.app.state.web_sessions.end_all(principal_id)  # their portal sessions end too
    return Revoked(principal_id=principal_id, revoked=count)
