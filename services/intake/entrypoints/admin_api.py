"""Key and user management for admins: everything an agent may do, plus issuing and revoking access."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.domain.principals import Principal, Role
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import TICKET_PROBLEMS
from services.intake.service_layer import access
from services.intake.service_layer.access import AccessRefused
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


def _refused(exc: AccessRefused) -> Problem:
    """Return the problem an access refusal answers with."""
    titles = {403: "Forbidden", 404: "Not found", 409: "Conflict", 422: "Invalid request"}
    return Problem(exc.status, titles.get(exc.status, "Refused"), str(exc))


def require_admin(caller: Principal) -> None:
    """Refuse anyone but an admin with 403."""
    try:
        access.require_admin(caller)
    except AccessRefused as exc:
        raise _refused(exc) from exc


@router.get("/keys", response_model=list[KeyView], responses=TICKET_PROBLEMS)
async def list_keys(caller: Caller, request: Request, role: Role | None = None) -> list[dict[str, Any]]:
    """Every key and e-mail identity, newest first (admins)."""
    require_admin(caller)
    return await request.app.state.api_keys.list(role)


@router.post("/keys", status_code=201, response_model=IssuedKey, responses=TICKET_PROBLEMS)
async def issue_key(body: KeyCreate, caller: Caller, request: Request) -> IssuedKey:
    """Issue a key (admins); the key is in this response only."""
    state = request.app.state
    try:
        issued = await access.issue_key(caller, body.role, body.name, body.email, body.expires_at, body.vendor_id,
                                        api_keys=state.api_keys, now=state.clock.now())
    except AccessRefused as exc:
        raise _refused(exc) from exc
    return IssuedKey(key=issued.key, key_id=issued.key_id, principal_id=issued.principal_id)


@router.post("/keys/{key_id}/revoke", response_model=KeyView, responses=TICKET_PROBLEMS)
async def revoke_key(key_id: KeyId, caller: Caller, request: Request) -> dict[str, Any]:
    """Revoke one key at once (admins); the key's next request is 401."""
    try:
        return await access.revoke_key(caller, key_id, api_keys=request.app.state.api_keys,
                                       now=request.app.state.clock.now())
    except AccessRefused as exc:
        raise _refused(exc) from exc


@router.post("/users/{principal_id}/revoke", response_model=Revoked, responses=TICKET_PROBLEMS)
async def revoke_user(principal_id: KeyId, caller: Caller, request: Request) -> Revoked:
    """Turn off every key of one user (admins), for someone who left or a leaked key of unknown id."""
    state = request.app.state
    try:
        count = await access.revoke_person(caller, principal_id, api_keys=state.api_keys, sessions=state.web_sessions,
                                           now=state.clock.now())  # their portal sessions end too
    except AccessRefused as exc:
        raise _refused(exc) from exc
    return Revoked(principal_id=principal_id, revoked=count)
