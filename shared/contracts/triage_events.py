"""Contracts of triage beyond ticket.triaged: reclassification, duplicates, agent overrides."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.events import TICKET_NUMBER_PATTERN, Contract
from shared.contracts.vocabulary import Severity

ReclassificationTrigger = Literal["growth", "agent", "priority_bump", "rules"]


class Actor(BaseModel):
    """Who asked for a change (an agent, a reporter, or one of our services)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str = Field(min_length=1, max_length=50)
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class TicketDuplicateDetected(Contract):
    """Triage grouped a report under an earlier ticket with the same fingerprint.

    The envelope's ticket_id is the primary's, so updates of one primary arrive in order;
    `reports` and `users_affected` are the primary group's totals after this report (absolute, so
    applying an event twice or a stale one is harmless when the larger value is kept).
    """

    EVENT_TYPE: ClassVar[str] = "ticket.duplicate_detected"
    EVENT_VERSION: ClassVar[int] = 1

    primary_ticket_id: str = Field(min_length=1, max_length=100)
    primary_number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    duplicate_ticket_id: str = Field(min_length=1, max_length=100)
    duplicate_number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    duplicate_title: str = Field(min_length=1, max_length=200)
    fingerprint: str = Field(min_length=1, max_length=100)
    reports: int = Field(ge=2)
    users_affected: int = Field(ge=0)
    primary_reported_at: AwareDatetime
    duplicate_reported_at: AwareDatetime
    detected_at: AwareDatetime


class TicketReclassified(Contract):
    """A ticket's severity changed after triage; the new severity's targets now apply.

    `escalation_trigger` is True when the change is a spec escalation trigger (severity increased
    during investigation, e.g. `trigger="growth"`). Due times are given old and new so the timeline
    can say what moved; `spent_seconds` and `paused_seconds` are what carried over.
    """

    EVENT_TYPE: ClassVar[str] = "ticket.reclassified"
    EVENT_VERSION: ClassVar[int] = 1

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    old_severity: Severity
    severity: Severity
    trigger: ReclassificationTrigger
    escalation_trigger: bool
    rule: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=1000)
    old_tier: int = Field(ge=1, le=4)
    tier: int = Field(ge=1, le=4)
    old_team: str = Field(min_length=1, max_length=100)
    team: str = Field(min_length=1, max_length=100)
    changed_at: AwareDatetime
    old_response_due_at: AwareDatetime
    response_due_at: AwareDatetime
    old_resolution_due_at: AwareDatetime
    resolution_due_at: AwareDatetime
    response_target: str = Field(min_length=1, max_length=100)
    resolution_target: str = Field(min_length=1, max_length=100)
    spent_seconds: float = Field(ge=0)
    paused_seconds: float = Field(ge=0)
    users_affected: int | None = Field(default=None, ge=0)
    actor: Actor | None = None


class TicketSeverityOverridden(Contract):
    """An agent set a ticket's severity (or accepted a reporter's priority bump); the override wins.

    Produced by intake; triage answers with ticket.reclassified carrying the new due times.
    `paused_seconds` is the ticket's total time paused so far (On Hold / Waiting for Info), if known.
    """

    EVENT_TYPE: ClassVar[str] = "ticket.severity_overridden"
    EVENT_VERSION: ClassVar[int] = 1

    ticket_id: str = Field(min_length=1, max_length=100)
    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    severity: Severity
    reason: str = Field(min_length=1, max_length=1000)
    actor: Actor
    trigger: Literal["agent", "priority_bump"] = "agent"
    overridden_at: AwareDatetime
    paused_seconds: float | None = Field(default=None, ge=0)
