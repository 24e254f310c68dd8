"""What applying an event or a timer step to a clock produces: events, vendor messages (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.escalation.domain.oncall.config import OnCallConfig
from services.escalation.domain.policy import EscalationPolicy
from shared.contracts.escalation_events import VendorHandoff
from shared.contracts.events import Contract

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NeedNumber(Exception):
    """The policy issues a new ticket number and the context has none left; allocate one and retry."""


@dataclass
class Context:
    """The time, the policy, the on-call configuration and pre-allocated ticket numbers a computation may use."""

    now: datetime
    policy: EscalationPolicy
    numbers: list[str] = field(default_factory=list)
    oncall: OnCallConfig | None = None
    """People, schedules and team policies as they are now; None where no on-call configuration is loaded."""

    def take_number(self) -> str:
        """Return a pre-allocated number, or raise NeedNumber so the caller allocates one and retries."""
        if not self.numbers:
            raise NeedNumber()
        return self.numbers.pop(0)


@dataclass
class Effects:
    """Events for the bus (outbox) and hand-offs for vendors (vendor outbox) owed by one change."""

    events: list[Contract] = field(default_factory=list)
    vendor_messages: list[tuple[str, VendorHandoff]] = field(default_factory=list)
    steps: list[tuple[str, datetime]] = field(default_factory=list)
    """(key, when it was due) of each timer step fired, for the lateness metric."""

    def emit(self, event: Contract) -> None:
        """Owe an event on incidents.events."""
        self.events.append(event)


def facts(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the ticket facts every escalation event carries."""
    return {
        "ticket_id": doc["_id"],
        "number": doc["number"],
        "severity": doc.get("severity"),
        "tier": doc.get("tier"),
        "team": doc.get("team"),
        "reporter": doc.get("reporter"),
    }


def new_clock_record(ticket_id: str, number: str, now: datetime) -> dict[str, Any]:
    """Return the clock record of a ticket escalation has just heard of, owing nothing yet."""
    return {
        "_id": ticket_id,
        "number": number,
        "title": None,
        "reporter": None,
        "severity": None,
        "tier": None,
        "team": None,
        "status": "open",
        "first_response_at": None,
        "facts": {},
        "triaged": False,
        "clocks": {},
        "paused_since": None,
        "paused_seconds": 0.0,
        "previous_numbers": [],
        "escalations": [],
        "page": None,
        "oncall": None,
        "vendor": None,
        "auto_close": None,
        "fired": [],
        "applied_events": [],
        "next_due_at": None,
        "lease_until": EPOCH,
        "lease_owner": None,
        "rev": 0,
        "outbox": [],
        "vendor_outbox": [],
        "created_at": now,
        "updated_at": now,
    }
