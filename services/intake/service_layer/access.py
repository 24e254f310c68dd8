"""Who may use the system: issuing and revoking API keys and people, for admins (the JSON API and the console)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.adapters.api_keys import key_id_of
from services.intake.domain.principals import Principal, Role


class AccessRefused(ValueError):
    """A key or revocation an admin may not make; `status` is the HTTP status that fits (403, 404, 409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_admin(caller: Principal) -> None:
    """Refuse anyone but an admin."""
    if not caller.is_admin:
        raise AccessRefused(403, "only admins manage keys and users")


@dataclass(frozen=True)
class Issued:
    """A new key (shown once, stored only as a hash), its public id and whose it is."""

    key: str
    key_id: str
    principal_id: str


async def issue_key(caller: Principal, role: Role, name: str, email: str | None, expires_at: datetime | None,
                    vendor_id: str | None, *, api_keys: Any, now: datetime) -> Issued:
    """Issue a key as an admin; vendor keys name their vendor and only they do; expiry lies ahead."""
    require_admin(caller)
    if (role is Role.VENDOR) != (vendor_id is not None):
        raise AccessRefused(422, "vendor_id is required for role vendor and only for it")
    if expires_at is not None and expires_at <= now:
        raise AccessRefused(422, "expires_at must be in the future")
    key, principal = await api_keys.create(role, name, email, now, expires_at=expires_at, vendor_id=vendor_id)
    return Issued(key=key, key_id=key_id_of(key), principal_id=principal.id)


async def revoke_key(caller: Principal, key_id: str, *, api_keys: Any, now: datetime) -> dict[str, Any]:
    """Revoke one key at once as an admin; return it as shown after (AccessRefused 404 when there is none)."""
    require_admin(caller)
    revoked = await api_keys.revoke(key_id, now)
    if revoked is None:
        raise AccessRefused(404, f"no key {key_id}")
    return revoked


async def revoke_person(caller: Principal, principal_id: str, *, api_keys: Any, sessions: Any, now: datetime) -> int:
    """Turn off every key and portal session of one person as an admin (never oneself); return the keys revoked."""
    require_admin(caller)
    if principal_id == caller.id:
        raise AccessRefused(409, "revoke your own keys from another admin's account")
    count = await api_keys.revoke_principal(principal_id, now)
    await sessions.end_all(principal_id)
    return count


def people(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per person from their keys: name, e-mail, roles, keys active and in all, newest first."""
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        person = found.setdefault(key["principal_id"], {
            "principal_id": key["principal_id"], "name": key["name"], "email": key.get("email"), "roles": set(),
            "active": 0, "keys": 0, "created_at": key.get("created_at"), "vendor_id": key.get("vendor_id")})
        person["roles"].add(key["role"])
        person["keys"] += 1 if key.get("has_key", True) else 0
        person["active"] += key["state"] == "active"
    rows = [{**p, "roles": sorted(p["roles"])} for p in found.values()]
    return sorted(rows, key=lambda p: (-p["active"], p["name"].lower()))
