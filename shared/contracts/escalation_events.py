"""Contracts of escalation: SLA warnings and breaches, tier escalations, pages, vendor hand-off, auto-close.

The events travel on `incidents.events` like every other Contract. The vendor messages at the end
(VendorHandoff, VendorReply) are not events of the bus: they travel on `incidents.vendor` to and
from external partners and are specified in docs/asyncapi-vendor.yaml.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.events import TICKET_NUMBER_PATTERN, Contract, Reporter
from shared.contracts.vocabulary import Severity

SlaTarget = Literal["response", "resolution", "handoff"]
EscalationTrigger = Literal[
    "response_breached",      # the response target was missed
    "resolution_breached",    # the resolution target was missed
    "still_has_issues",       # the initial resolution attempt failed (reporter feedback)
    "production",             # the production environment is affected (at Tier 1)
    "security",               # the incident has security implications
    "third_party",            # a third-party or hardware cause: Tier 4, vendor hand-off
    "reclassified",           # more users/systems affected or severity increased during investigation
    "agent",                  # an agent asked for the tier (ticket.escalation_requested), with a reason
    "page_undeliverable",     # every contact of the page chain was unreachable
    "vendor_unresponsive",    # a vendor did not answer within its agreed time
]
VendorReplyKind = Literal["acknowledged", "update", "need_info", "resolved"]
VENDOR_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"


class EscalationFacts(Contract):
    """Fields every escalation event carries, so consumers (intake, notifier) need no lookup."""

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    severity: Severity | None = None
    tier: int | None = Field(default=None, ge=1, le=4)
    team: str | None = Field(default=None, max_length=100)
    reporter: Reporter | None = None


class SlaWarning(EscalationFacts):
    """A running SLA clock used `fraction` of its budget; sent once per target, fraction and due time."""

    EVENT_TYPE: ClassVar[str] = "sla.warning"
    EVENT_VERSION: ClassVar[int] = 1

    target: SlaTarget
    due_at: AwareDatetime
    fraction: float = Field(gt=0, lt=1)
    at: AwareDatetime


class SlaBreached(EscalationFacts):
    """A running SLA clock reached its due time without the response, resolution or hand-off; sent once."""

    EVENT_TYPE: ClassVar[str] = "sla.breached"
    EVENT_VERSION: ClassVar[int] = 1

    target: SlaTarget
    due_at: AwareDatetime
    fraction: float = Field(default=1.0, ge=1)
    at: AwareDatetime


class TicketEscalated(EscalationFacts):
    """The ticket moved from one tier to another by policy; `tier`/`team` are the new ones.

    `new_number` is set when the policy issues the reporter a new ticket number (escalation issues it
    from its own sequence with its own prefix; intake makes it the ticket's number and keeps
    `previous_number` linked). `handoff_due_at` is when the new team must have contacted the reporter.
    """

    EVENT_TYPE: ClassVar[str] = "ticket.escalated"
    EVENT_VERSION: ClassVar[int] = 1

    from_tier: int = Field(ge=1, le=4)
    to_tier: int = Field(ge=1, le=4)
    from_team: str | None = Field(default=None, max_length=100)
    trigger: EscalationTrigger
    reason: str = Field(min_length=1, max_length=1000)
    previous_number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    new_number: str | None = Field(default=None, pattern=TICKET_NUMBER_PATTERN)
    handoff_due_at: AwareDatetime
    vendor_id: str | None = Field(default=None, pattern=VENDOR_ID_PATTERN)
    escalated_at: AwareDatetime
    oncall_policy: str | None = Field(default=None, max_length=200)
    """Optional: the new team's on-call policy pages it (escalation.page_requested to the people on call), so the
    notifier does not page the team's static on_call contact for this event."""


class PagedPerson(BaseModel):
    """Someone an on-call page names, with where to reach them (slack and webhook name notifier endpoints)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    slack: str | None = Field(default=None, max_length=200)
    webhook: str | None = Field(default=None, max_length=200)


class EscalationPageRequested(EscalationFacts):
    """Page one contact role of the ticket's team (again): unacknowledged, or the previous contact unreachable.

    A page of an on-call policy names `people` (whoever the step's targets had on call at the time of the
    page) and team `channels`; it goes to them instead of the static contacts of `role`.
    """

    EVENT_TYPE: ClassVar[str] = "escalation.page_requested"
    EVENT_VERSION: ClassVar[int] = 1

    page_id: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=50)
    attempt: int = Field(ge=1)
    max_attempts: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=1000)
    requested_at: AwareDatetime
    step: str | None = Field(default=None, max_length=50)
    """Optional: the on-call policy's firing this page is (`step.<round>.<index>` or `lead`)."""
    policy_id: str | None = Field(default=None, max_length=200)
    """Optional: the on-call policy (`<team>/tier-<n>`) this page belongs to."""
    people: list[PagedPerson] | None = Field(default=None, max_length=50)
    """Optional: the people paged by name; when given, only they and `channels` are paged."""
    channels: list[str] | None = Field(default=None, max_length=5)
    """Optional: team roles of the routing file paged as well (e.g. `team`, the team's chat channel)."""


class VendorHandoffSent(EscalationFacts):
    """A Tier 4 ticket was handed to a vendor on `incidents.vendor`; the vendor must answer by answer_due_at."""

    EVENT_TYPE: ClassVar[str] = "vendor.handoff_sent"
    EVENT_VERSION: ClassVar[int] = 1

    vendor_id: str = Field(pattern=VENDOR_ID_PATTERN)
    vendor_name: str = Field(min_length=1, max_length=200)
    handoff_id: str = Field(min_length=1, max_length=100)
    routing_key: str = Field(min_length=1, max_length=200)
    answer_due_at: AwareDatetime
    sent_at: AwareDatetime


class VendorReplyReceived(EscalationFacts):
    """A vendor answered a hand-off; intake records it and, for resolved / need_info, moves the ticket."""

    EVENT_TYPE: ClassVar[str] = "vendor.reply_received"
    EVENT_VERSION: ClassVar[int] = 1

    vendor_id: str = Field(pattern=VENDOR_ID_PATTERN)
    vendor_name: str = Field(min_length=1, max_length=200)
    handoff_id: str = Field(min_length=1, max_length=100)
    reply_id: str = Field(min_length=1, max_length=100)
    kind: VendorReplyKind
    note: str = Field(min_length=1, max_length=20_000)
    author: str | None = Field(default=None, max_length=200)
    received_at: AwareDatetime


class TicketAutoCloseDue(EscalationFacts):
    """A resolved ticket had no reporter feedback for `business_days`; intake closes it if still resolved."""

    EVENT_TYPE: ClassVar[str] = "ticket.auto_close_due"
    EVENT_VERSION: ClassVar[int] = 1

    resolved_at: AwareDatetime
    business_days: int = Field(ge=1)
    due_at: AwareDatetime


# --- vendor messages on `incidents.vendor` (not bus events; see docs/asyncapi-vendor.yaml) -------------


def vendor_routing_key(vendor_id: str, message: Literal["handoff", "reply"]) -> str:
    """Return the `incidents.vendor` routing key, e.g. vendor.acme.handoff or vendor.acme.reply."""
    return f"vendor.{vendor_id}.{message}"


class VendorMessage(BaseModel):
    """Base of the vendor protocol: strict (unknown fields refused), versioned by `message_version`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorTicket(VendorMessage):
    """What a vendor is told about the ticket."""

    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Severity | None = None
    component: str | None = Field(default=None, max_length=100)
    reported_at: AwareDatetime | None = None


class VendorHandoff(VendorMessage):
    """Escalation -> vendor on routing key `vendor.<vendor_id>.handoff`."""

    message_type: Literal["vendor.handoff"] = "vendor.handoff"
    message_version: Literal[1] = 1
    handoff_id: str = Field(min_length=1, max_length=100)
    vendor_id: str = Field(pattern=VENDOR_ID_PATTERN)
    ticket_id: str = Field(min_length=1, max_length=100)
    ticket: VendorTicket
    reason: str = Field(min_length=1, max_length=1000)
    answer_due_at: AwareDatetime
    reply_routing_key: str = Field(min_length=1, max_length=200)
    sent_at: AwareDatetime


class VendorReply(VendorMessage):
    """Vendor -> escalation on routing key `vendor.<vendor_id>.reply`."""

    message_type: Literal["vendor.reply"] = "vendor.reply"
    message_version: Literal[1] = 1
    reply_id: str = Field(min_length=1, max_length=100)
    handoff_id: str = Field(min_length=1, max_length=100)
    vendor_id: str = Field(pattern=VENDOR_ID_PATTERN)
    ticket_id: str = Field(min_length=1, max_length=100)
    kind: VendorReplyKind
    note: str = Field(min_length=1, max_length=20_000)
    author: str | None = Field(default=None, max_length=200)
    sent_at: AwareDatetime
