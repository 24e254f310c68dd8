"""Contracts of triage beyond ticket.triaged: reclassification and duplicate grouping.

Agent overrides arrive as ticket.severity_changed (shared/contracts/lifecycle_events.py).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.contracts.events import TICKET_NUMBER_PATTERN, Contract
from shared.contracts.lifecycle_events import Actor
from shared.contracts.vocabulary import Severity

ReclassificationTrigger = Literal["growth", "agent", "priority_bump", "rules"]


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
