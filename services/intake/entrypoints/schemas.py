"""HTTP request bodies of the intake API; every model forbids unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
    model_validator,
)

from shared.contracts import IncidentType, Severity, Status, TicketKind


def _severity_from_level(value: Any) -> Any:
    """Accept the spec's Severity 1-4 numbers as well as the names."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Severity.from_level(value)
    if isinstance(value, str) and value.strip().isdigit():
        return Severity.from_level(int(value))
    return value


ReportedSeverity = Annotated[Severity, BeforeValidator(_severity_from_level)]
ShortText = Annotated[str, Field(min_length=1, max_length=2000)]
LongText = Annotated[str, Field(min_length=1, max_length=20_000)]


class Strict(BaseModel):
    """Unknown fields (including `$`-operators and dotted keys) are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SystemInfo(Strict):
    """The reporter's system."""

    os: str | None = Field(default=None, max_length=100)
    browser: str | None = Field(default=None, max_length=100)
    ip: IPvAnyAddress | None = None


class TicketCreate(Strict):
    """What a reporter sends to open a ticket; only title, type and description are required."""

    title: str = Field(min_length=3, max_length=200, description="Brief description")
    type: IncidentType = Field(description="Category of incident")
    description: LongText = Field(description="Detailed explanation")
    kind: TicketKind = Field(default=TicketKind.INCIDENT, description="incident, bug_report or feature_request")
    severity: ReportedSeverity | None = Field(default=None, description="How much it affects you: critical/high/medium/low or 1-4")
    steps_to_reproduce: LongText | None = None
    trying_to_do: ShortText | None = Field(default=None, description="What were you trying to do?")
    what_happened: ShortText | None = Field(default=None, description="What happened instead?")
    started_at: AwareDatetime | None = Field(default=None, description="When did it start?")
    users_affected: int | None = Field(default=None, ge=0, le=100_000_000, description="How many users are affected?")
    error_messages: ShortText | None = Field(default=None, description="What error messages did you see?")
    recent_changes: ShortText | None = Field(default=None, description="Any recent changes?")
    production: bool | None = Field(default=None, description="Is the production environment affected?")
    workaround_available: bool | None = Field(default=None, description="Is there a workaround?")
    component: str | None = Field(default=None, max_length=100, description="Affected component, if known")
    system_info: SystemInfo | None = None
    expected_behaviour: ShortText | None = Field(default=None, description="Bug reports: what should happen")
    actual_behaviour: ShortText | None = Field(default=None, description="Bug reports: what happens")
    use_case: ShortText | None = Field(default=None, description="Feature requests: why you need it")
    importance: Literal["low", "medium", "high", "critical"] | None = Field(default=None, description="Feature requests")

    @model_validator(mode="after")
    def _kind_specific_fields(self) -> TicketCreate:
        """Bug reports need expected and actual behaviour; feature requests need a use case."""
        if self.kind is TicketKind.BUG_REPORT and not (self.expected_behaviour and self.actual_behaviour):
            raise ValueError("a bug_report needs expected_behaviour and actual_behaviour")
        if self.kind is TicketKind.FEATURE_REQUEST and not self.use_case:
            raise ValueError("a feature_request needs a use_case")
        if self.kind is not TicketKind.FEATURE_REQUEST and self.importance is not None:
            raise ValueError("importance is for feature requests; incidents and bugs use severity")
        return self

    def to_fields(self) -> dict[str, Any]:
        """Return the ticket fields to store (severity is kept as the reporter's own)."""
        fields = self.model_dump(mode="json", exclude={"severity"}, exclude_none=True)
        fields["reported_severity"] = self.severity.value if self.severity else None
        for optional in ("users_affected", "production", "workaround_available", "component"):
            fields.setdefault(optional, None)
        return fields


class StatusMove(Strict):
    """Move a ticket; asking for information needs the question in `reason`."""

    status: Status
    reason: ShortText | None = None


class Assignment(Strict):
    """Who works on the ticket."""

    assignee: str = Field(min_length=1, max_length=200)


class EscalationRequest(Strict):
    """Move the ticket up to a tier, and why (escalation makes the move: new team, maybe a new number)."""

    to_tier: int = Field(ge=1, le=4)
    reason: ShortText


class FeatureDecision(Strict):
    """Where a feature request stands, as reporters see it."""

    status: Literal["under_review", "planned", "declined", "done"]
    note: ShortText | None = None


class SeverityOverride(Strict):
    """An agent's severity override and why."""

    severity: ReportedSeverity
    reason: ShortText


class CommentCreate(Strict):
    """A comment; internal notes are visible to support only."""

    body: LongText
    visibility: Literal["public", "internal"] = "public"


class Resolution(Strict):
    """The proposed solution the reporter is asked to confirm."""

    proposed_solution: LongText


class FeedbackCreate(Strict):
    """The reporter's answer to a resolution."""

    feedback: Literal["confirmed_fixed", "still_has_issues", "needs_more_info"]
    comment: LongText | None = None


class PriorityBump(Strict):
    """The reporter's request for a higher priority."""

    reason: ShortText
    requested_severity: ReportedSeverity | None = None
