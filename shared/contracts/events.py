"""Event payload contracts, one pydantic model per (event_type, event_version).

Within a version only optional fields may be added; a breaking change adds a new class with the
next version and an upcaster from the old one in UPCASTERS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.addresses import EmailAddress
from shared.contracts.envelope import Envelope
from shared.contracts.vocabulary import (
    TICKET_NUMBER_PATTERN,
    IncidentType,
    Severity,
    TicketKind,
)


class Contract(BaseModel):
    """Base of every payload: unknown fields are tolerated (forward compatible), values are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    EVENT_TYPE: ClassVar[str]
    EVENT_VERSION: ClassVar[int]


class Reporter(BaseModel):
    """Who reported a ticket and how to reach them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    verified: bool | None = None
    """Optional (added in v1): False when the report came by e-mail from a sender that proved nothing (no reply
    token, no DKIM signature of a trusted domain); None when not stated (an API key proves who calls)."""


class TicketReported(Contract):
    """A reporter opened a ticket; intake has stored it."""

    EVENT_TYPE: ClassVar[str] = "ticket.reported"
    EVENT_VERSION: ClassVar[int] = 1

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    kind: TicketKind = TicketKind.INCIDENT
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20_000)
    type: IncidentType
    reported_severity: Severity | None = None
    users_affected: int | None = Field(default=None, ge=0)
    production: bool | None = None
    workaround_available: bool | None = None
    component: str | None = Field(default=None, max_length=100)
    reporter: Reporter
    reported_at: AwareDatetime
    severity_pinned: bool = False
    """Optional (added in v1): True when reported_severity is authoritative: an integration's configured
    severity mapping, or a Slack mention in #critical-incidents (KB-005). Triage keeps it instead of applying
    its rules."""


class TicketTriaged(Contract):
    """Triage decided severity, tier, team and SLA targets for a ticket."""

    EVENT_TYPE: ClassVar[str] = "ticket.triaged"
    EVENT_VERSION: ClassVar[int] = 1

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    reported_severity: Severity | None = None
    severity: Severity
    rule: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=1000)
    tier: int = Field(ge=1, le=4)
    team: str = Field(min_length=1, max_length=100)
    reported_at: AwareDatetime
    acknowledge_due_at: AwareDatetime
    response_due_at: AwareDatetime
    resolution_due_at: AwareDatetime
    response_target: str = Field(min_length=1, max_length=100)
    reporter: Reporter
    type: IncidentType | None = None
    """Optional (added in v1): the report's facts escalation's initial triggers look at, so it needs no ticket.reported."""
    production: bool | None = None
    component: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class NotificationDelivered(Contract):
    """A notification reached its channel (the receiving server accepted it)."""

    EVENT_TYPE: ClassVar[str] = "notification.delivered"
    EVENT_VERSION: ClassVar[int] = 1

    delivery_id: str = Field(min_length=1, max_length=300)
    source_event_id: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=50)
    recipient: str = Field(min_length=1, max_length=300)
    attempts: int = Field(ge=1)
    role: str | None = Field(default=None, max_length=50)
    """Optional: the recipient's role in routing (reporter, on_call, lead, team); intake shows reporters only theirs."""


class NotificationFailed(Contract):
    """A notification could not be delivered after its retries; escalation may act on it."""

    EVENT_TYPE: ClassVar[str] = "notification.failed"
    EVENT_VERSION: ClassVar[int] = 1

    delivery_id: str = Field(min_length=1, max_length=300)
    source_event_id: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=100)
    channel: str = Field(min_length=1, max_length=50)
    recipient: str = Field(min_length=1, max_length=300)
    attempts: int = Field(ge=1)
    error: str = Field(min_length=1, max_length=2000)
    role: str | None = Field(default=None, max_length=50)
    """Optional: the recipient's role in routing (reporter, on_call, lead, team), so escalation can page the next one."""
    via_digest: bool | None = None
    """Optional: True when the failed send was a digest of rate-limited messages."""


def _all_contracts() -> dict[tuple[str, int], type[Contract]]:
    """Return every Contract subclass defined so far, keyed by (event_type, event_version)."""
    found: dict[tuple[str, int], type[Contract]] = {}
    pending = list(Contract.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if getattr(model, "EVENT_TYPE", None) is None:
            continue  # an abstract base shared by several events
        key = (model.EVENT_TYPE, model.EVENT_VERSION)
        if key in found and found[key] is not model:
            raise TypeError(f"two contracts claim {key}: {found[key].__name__} and {model.__name__}")
        found[key] = model
    return found


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event_type, old_version) -> function turning an old payload into the next version's."""


def payload_model(event_type: str, version: int) -> type[Contract] | None:
    """Return the contract class for an event type and version, or None if unknown."""
    return CONTRACTS.get((event_type, version))


# Contracts of each area live in their own module; importing them here registers them.
from shared.contracts import (  # noqa: E402,F401
    escalation_events,
    lifecycle_events,
    oncall_events,
    sla_events,
    triage_events,
)

CONTRACTS: dict[tuple[str, int], type[Contract]] = _all_contracts()


def upcast(envelope: Envelope) -> Envelope:
    """Return the envelope raised to the newest version its upcasters reach."""
    while (step := UPCASTERS.get((envelope.event_type, envelope.event_version))) is not None:
        envelope = envelope.model_copy(
            update={"payload": step(envelope.payload), "event_version": envelope.event_version + 1}
        )
    return envelope
