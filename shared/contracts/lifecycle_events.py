"""Contracts of the ticket lifecycle, published by intake: who changed what on a ticket, and why."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.events import TICKET_NUMBER_PATTERN, Contract, Reporter
from shared.contracts.vocabulary import Severity, Status

ActorType = Literal["reporter", "agent", "admin", "system", "vendor"]
Feedback = Literal["confirmed_fixed", "still_has_issues", "needs_more_info"]


class Actor(BaseModel):
    """Who made a change: a person (by role) or one of our services."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ActorType
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class LifecycleEvent(Contract):
    """Fields every lifecycle event carries, so consumers need no lookup to act or notify."""

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    actor: Actor
    at: AwareDatetime
    status: Status
    severity: Severity | None = None
    tier: int | None = Field(default=None, ge=1, le=4)
    team: str | None = Field(default=None, max_length=100)
    production: bool | None = None
    reporter: Reporter


class TicketStatusChanged(LifecycleEvent):
    """The ticket moved from one status to another; `reason` is the agent's question or note."""

    EVENT_TYPE: ClassVar[str] = "ticket.status_changed"
    EVENT_VERSION: ClassVar[int] = 1

    from_status: Status
    reason: str | None = Field(default=None, max_length=5000)


class TicketAcknowledged(LifecycleEvent):
    """Support gave its first human response: the response clock stops here."""

    EVENT_TYPE: ClassVar[str] = "ticket.acknowledged"
    EVENT_VERSION: ClassVar[int] = 1

    first_response_at: AwareDatetime


class TicketPageAcknowledged(LifecycleEvent):
    """The person paged acknowledged the page from its one-click link: the page chain stops."""

    EVENT_TYPE: ClassVar[str] = "ticket.page_acknowledged"
    EVENT_VERSION: ClassVar[int] = 1

    page_id: str = Field(min_length=1, max_length=100)
    step: str | None = Field(default=None, max_length=50)
    person_id: str = Field(min_length=1, max_length=300)


class TicketAssigned(LifecycleEvent):
    """The ticket got an assignee."""

    EVENT_TYPE: ClassVar[str] = "ticket.assigned"
    EVENT_VERSION: ClassVar[int] = 1

    assignee: str = Field(min_length=1, max_length=200)


class TicketCommented(LifecycleEvent):
    """Someone commented; internal notes are for support only."""

    EVENT_TYPE: ClassVar[str] = "ticket.commented"
    EVENT_VERSION: ClassVar[int] = 1

    visibility: Literal["public", "internal"]
    body: str = Field(min_length=1, max_length=20_000)


class TicketSeverityChanged(LifecycleEvent):
    """An agent changed the severity; the override wins over triage and is recorded."""

    EVENT_TYPE: ClassVar[str] = "ticket.severity_changed"
    EVENT_VERSION: ClassVar[int] = 1

    old_severity: Severity | None = None
    new_severity: Severity
    reason: str = Field(min_length=1, max_length=2000)
    source: Literal["agent", "priority_bump"] = "agent"


class TicketPriorityBumpRequested(LifecycleEvent):
    """The reporter asked for a higher priority."""

    EVENT_TYPE: ClassVar[str] = "ticket.priority_bump_requested"
    EVENT_VERSION: ClassVar[int] = 1

    reason: str = Field(min_length=1, max_length=2000)
    requested_severity: Severity | None = None


class TicketResolved(LifecycleEvent):
    """Support proposed a solution; the reporter is asked for feedback."""

    EVENT_TYPE: ClassVar[str] = "ticket.resolved"
    EVENT_VERSION: ClassVar[int] = 1

    proposed_solution: str = Field(min_length=1, max_length=20_000)


class TicketEscalationRequested(LifecycleEvent):
    """An agent asked for the ticket to go to a higher tier; escalation moves it (new team, number, hand-off)."""

    EVENT_TYPE: ClassVar[str] = "ticket.escalation_requested"
    EVENT_VERSION: ClassVar[int] = 1

    to_tier: int = Field(ge=1, le=4)
    reason: str = Field(min_length=1, max_length=2000)


class TicketFeedbackReceived(LifecycleEvent):
    """The reporter answered a resolution; still_has_issues is an escalation trigger."""

    EVENT_TYPE: ClassVar[str] = "ticket.feedback_received"
    EVENT_VERSION: ClassVar[int] = 1

    feedback: Feedback
    comment: str | None = Field(default=None, max_length=20_000)


class TicketVoted(LifecycleEvent):
    """A user voted for a feature request."""

    EVENT_TYPE: ClassVar[str] = "ticket.voted"
    EVENT_VERSION: ClassVar[int] = 1

    votes: int = Field(ge=1)


class TicketAttachmentAdded(LifecycleEvent):
    """A file was attached to the ticket."""

    EVENT_TYPE: ClassVar[str] = "ticket.attachment_added"
    EVENT_VERSION: ClassVar[int] = 1

    attachment_id: str = Field(min_length=1, max_length=100)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=100)
    size: int = Field(ge=0)
