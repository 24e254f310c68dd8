"""HTTP request and response bodies of the intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.contracts import IncidentType, Severity, TicketKind


def _severity_from_level(value: Any) -> Any:
    """Accept the spec's Severity 1-4 numbers as well as the names."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Severity.from_level(value)
    if isinstance(value, str) and value.strip().isdigit():
        return Severity.from_level(int(value))
    return value


ReportedSeverity = Annotated[Severity, BeforeValidator(_severity_from_level)]


class TicketCreate(BaseModel):
    """What a reporter sends to open a ticket; only title, type and description are required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=3, max_length=200, description="Brief description")
    type: IncidentType = Field(description="Category of incident")
    description: str = Field(min_length=1, max_length=20_000, description="Detailed explanation")
    kind: TicketKind = Field(default=TicketKind.INCIDENT, description="incident, bug_report or feature_request")
    severity: ReportedSeverity | None = Field(
        default=None, description="How much it affects you: critical/high/medium/low or 1-4"
    )
    users_affected: int | None = Field(default=None, ge=0, le=100_000_000, description="How many users are affected")
    production: bool | None = Field(default=None, description="Is the production environment affected?")
    workaround_available: bool | None = Field(default=None, description="Is there a workaround?")
    component: str | None = Field(default=None, max_length=100, description="Affected component, if known")


class Actor(BaseModel):
    """Who made a change."""

    type: str
    id: str
    name: str


class TimelineEntry(BaseModel):
    """One change in a ticket's life."""

    at: datetime
    actor: Actor
    action: str
    detail: str
    data: dict[str, Any] | None = None


class SlaView(BaseModel):
    """The ticket's SLA due times."""

    acknowledge_due_at: datetime
    response_due_at: datetime
    resolution_due_at: datetime
    response_target: str


class TriageView(BaseModel):
    """How the ticket was classified."""

    rule: str
    reason: str


class ReporterView(BaseModel):
    """Who reported the ticket."""

    id: str
    name: str
    email: str | None = None


class TicketView(BaseModel):
    """A ticket as the API shows it."""

    id: str
    number: str
    kind: TicketKind
    title: str
    description: str
    type: IncidentType
    status: str
    reported_severity: Severity | None = None
    severity: Severity | None = None
    tier: int | None = None
    team: str | None = None
    users_affected: int | None = None
    production: bool | None = None
    workaround_available: bool | None = None
    component: str | None = None
    reporter: ReporterView
    sla: SlaView | None = None
    triage: TriageView | None = None
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineEntry]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> TicketView:
        """Return the view of a stored ticket document."""
        return cls.model_validate({**document, "id": document["_id"]})
