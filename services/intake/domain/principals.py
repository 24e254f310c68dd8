"""Who is calling the API and what their role lets them see (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """API key roles."""

    REPORTER = "reporter"
    AGENT = "agent"
    ADMIN = "admin"
    VENDOR = "vendor"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    id: str
    role: Role
    name: str
    email: str | None = None

    @property
    def is_staff(self) -> bool:
        """Return True for agents and admins, who see every ticket."""
        return self.role in (Role.AGENT, Role.ADMIN)

    def may_see(self, ticket: dict) -> bool:
        """Return True if this caller may see the ticket (reporters only their own)."""
        return self.is_staff or ticket.get("reporter", {}).get("id") == self.id

    def as_reporter(self) -> dict[str, str | None]:
        """Return the reporter sub-document for tickets this caller opens."""
        return {"id": self.id, "name": self.name, "email": self.email}
