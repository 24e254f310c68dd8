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
    vendor_id: str | None = None
    """For vendor keys: the vendor (as in the escalation policy) whose hand-offs this key may see."""

    @property
    def is_staff(self) -> bool:
        """Return True for agents and admins, who see every ticket."""
        return self.role in (Role.AGENT, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        """Return True for admins: what agents may do, and managing keys and users."""
        return self.role is Role.ADMIN

    @property
    def may_report(self) -> bool:
        """Return True if this caller may open tickets (vendors act only on tickets handed to them)."""
        return self.role is not Role.VENDOR

    def may_see(self, ticket: dict) -> bool:
        """Return True if this caller may see the ticket: staff all, reporters their own, vendors those handed to them."""
        if self.is_staff:
            return True
        if self.role is Role.VENDOR:
            vendor = ticket.get("vendor")
            return self.vendor_id is not None and isinstance(vendor, dict) and vendor.get("id") == self.vendor_id
        return (ticket.get("reporter") or {}).get("id") == self.id

    def as_reporter(self) -> dict[str, str | None]:
        """Return the reporter sub-document for tickets this caller opens."""
        return {"id": self.id, "name": self.name, "email": self.email}
