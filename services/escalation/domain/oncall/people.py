"""People who can be on call, and the shifts they hold (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.escalation.domain.oncall.errors import OnCallConfigError, require_text
from services.escalation.domain.oncall.tzmath import zone


@dataclass(frozen=True)
class Person:
    """Someone who can be paged: where to reach them and the zone they live in."""

    id: str
    name: str
    email: str
    time_zone: str
    slack: str | None = None
    webhook: str | None = None

    def __post_init__(self) -> None:
        require_text(self.id, "person.id")
        require_text(self.name, "person.name")
        local, _, domain = str(self.email).rpartition("@")
        if not isinstance(self.email, str) or not local or "." not in domain or " " in self.email:
            raise OnCallConfigError("person.email", f"not an e-mail address: {self.email!r}")
        zone(self.time_zone, "person.time_zone")
        if self.slack is not None:
            require_text(self.slack, "person.slack")
        if self.webhook is not None:
            require_text(self.webhook, "person.webhook")


def directory(people: Iterable[Person]) -> dict[str, Person]:
    """Return people by id; raise OnCallConfigError naming person.id when an id is used twice."""
    found: dict[str, Person] = {}
    for person in people:
        if person.id in found:
            raise OnCallConfigError("person.id", f"{person.id!r} is used by two people")
        found[person.id] = person
    return found


@dataclass(frozen=True)
class Shift:
    """`person` is on call from `start` (inclusive) to `end` (exclusive), both UTC."""

    person: str
    start: datetime
    end: datetime

    @property
    def interval(self) -> tuple[datetime, datetime]:
        """Return (start, end)."""
        return (self.start, self.end)
