"""The support console's plumbing: who may open it, who the staff are, and reading the console's forms.

The console is the staff side of the portal: the same sign-in, sessions, layout, CSRF checks and
security headers (portal_web.py). Every console URL first proves a signed-in agent or admin (admin
pages an admin); anyone else signed in gets the same 404 as a path that does not exist, before any
form is read, so the console neither confirms what it holds nor acts for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from services.intake.adapters.service_calls import SERVICE_NAME
from services.intake.domain.principals import Principal, Role
from services.intake.domain.queue import Me
from services.intake.entrypoints.portal_web import portal_of

STAFF_CACHE_SECONDS = 60.0


def not_found() -> HTTPException:
    """Return the 404 any unknown path gets (the console looks like nothing to people who may not use it)."""
    return HTTPException(status_code=404, detail="Not Found")


async def require_staff(request: Request) -> Principal:
    """Return the signed-in agent or admin; sign-in for nobody, a plain 404 for reporters and vendors."""
    person = await portal_of(request).require_person(request)
    if not person.is_staff:
        raise not_found()
    return person


async def require_admin(request: Request) -> Principal:
    """Return the signed-in admin; sign-in for nobody, a plain 404 for everyone else."""
    person = await require_staff(request)
    if not person.is_admin:
        raise not_found()
    return person


def me_of(person: Principal) -> Me:
    """Return how the queue recognises this person as an assignee."""
    return Me(name=person.name, email=person.email)


def assignee_of(person: Principal | dict[str, Any]) -> str:
    """Return what an assignment to this person stores: their e-mail address (unique), else their name."""
    if isinstance(person, Principal):
        return person.email or person.name
    return person.get("email") or person["name"]


@dataclass(frozen=True)
class StaffMember:
    """An agent or admin people can assign tickets to."""

    id: str
    name: str
    email: str | None
    role: str

    @property
    def assignee(self) -> str:
        """Return what an assignment to this person stores."""
        return self.email or self.name


class StaffDirectory:
    """The agents and admins with an active key, read from the API keys at most once a minute (an admin's list)."""

    def __init__(self, api_keys: Any, monotonic=time.monotonic) -> None:
        self._api_keys = api_keys
        self._monotonic = monotonic
        self._members: list[StaffMember] = []
        self._read_at: float | None = None

    async def members(self) -> list[StaffMember]:
        """Return the staff, by name."""
        now = self._monotonic()
        if self._read_at is None or now - self._read_at > STAFF_CACHE_SECONDS:
            keys = [k for role in (Role.AGENT, Role.ADMIN) for k in await self._api_keys.list(role)]
            found: dict[str, StaffMember] = {}
            for key in keys:
                if key["state"] == "active" and key["name"] != SERVICE_NAME:
                    found.setdefault(key["principal_id"], StaffMember(key["principal_id"], key["name"], key.get("email"),
                                                                      key["role"]))
            self._members = sorted(found.values(), key=lambda m: m.name.lower())
            self._read_at = now
        return self._members

    def forget(self) -> None:
        """Read the staff again next time (after an admin changed keys)."""
        self._read_at = None

    async def name_of(self, assignee: str | None) -> str | None:
        """Return the staff member's name an assignee names (by e-mail address), else the assignee as stored."""
        if not assignee:
            return None
        for member in await self.members():
            if member.email and member.email.lower() == assignee.lower():
                return member.name
        return assignee


def field(form: FormData, name: str, limit: int = 20_000) -> str:
    """Return a posted text field, stripped and cut to limit (files and absent fields are empty)."""
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


def instant(value: Any) -> datetime | None:
    """Return another service's ISO 8601 time as an aware datetime (UTC when it names no zone), or None if not one."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def seen_of(form: FormData) -> int | None:
    """Return the timeline position the posting page showed, or None when the form did not say."""
    value = field(form, "seen", 12)
    return int(value) if value.isdigit() else None
