"""HTTP response bodies of the intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, field_validator

from services.intake.domain.sla import OUTCOME_FIELD, clock_summary
from shared.contracts import IncidentType, Severity, TicketKind
from shared.sla.calendar import BusinessCalendar

PUBLIC_CLOCK_FIELDS = ("target", "state", "due_at", "allowance", "time_left_seconds", "paused_seconds")
"""What a reporter sees of a clock: when support will answer, and whether it waits for them."""


class ActorView(BaseModel):
    """Who made a change."""

    type: str
    id: str
    name: str


class TimelineEntry(BaseModel):
    """One change in a ticket's life."""

    at: datetime
    actor: ActorView
    action: str
    detail: str
    visibility: str = "public"
    data: dict[str, Any] | None = None
    seq: int | None = None
    """Position in the ticket's timeline; page older entries with GET …/timeline?before=<seq>."""


class SlaClockView(BaseModel):
    """One SLA clock as the reader may see it, computed now from the clock escalation reported.

    `state` is running, paused, met, breached (reached late, or running past its due time) or
    stopped; `time_left_seconds` counts working time for targets in business days and is negative
    when overdue. Reporters see the first five fields; support sees all.
    """

    target: str
    state: str
    due_at: datetime | None = None
    allowance: str | None = None
    time_left_seconds: float | None = None
    paused_seconds: float | None = None
    business_time: bool | None = None
    time_used_seconds: float | None = None
    used_fraction: float | None = None
    outcome: str | None = None


class SlaView(BaseModel):
    """The ticket's SLA: its due times (they move when paused time is credited) and its clocks."""

    acknowledge_due_at: datetime | None = None
    response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    handoff_due_at: datetime | None = None
    response_target: str | None = None
    clocks: list[SlaClockView] = []


class TriageView(BaseModel):
    """How the ticket was classified."""

    rule: str
    reason: str


class ReporterView(BaseModel):
    """Who reported the ticket."""

    id: str
    name: str
    email: str | None = None
    verified: bool = True
    """False when the ticket came by e-mail from a sender that proved nothing (no reply address of ours, no
    trusted DKIM signature): its From address, and a CRITICAL subject, are only what the sender claimed."""

    @field_validator("verified", mode="before")
    @classmethod
    def _unstated_is_verified(cls, value: Any) -> Any:
        """A ticket that does not say (an API key proved its reporter) is verified."""
        return True if value is None else value


class ResolutionView(BaseModel):
    """The proposed solution."""

    proposed_solution: str
    by: str


class VendorView(BaseModel):
    """The third party a ticket was handed to (support staff see it)."""

    id: str
    name: str | None = None
    state: str | None = None
    handoff_id: str | None = None


class TicketView(BaseModel):
    """A ticket as the API shows it; reporters do not see internal notes."""

    id: str
    number: str
    kind: TicketKind
    title: str
    description: str
    type: IncidentType
    status: str
    reported_severity: Severity | None = None
    severity: Severity | None = None
    severity_source: str | None = None
    tier: int | None = None
    team: str | None = None
    assignee: str | None = None
    steps_to_reproduce: str | None = None
    trying_to_do: str | None = None
    what_happened: str | None = None
    started_at: datetime | None = None
    users_affected: int | None = None
    error_messages: str | None = None
    recent_changes: str | None = None
    production: bool | None = None
    workaround_available: bool | None = None
    component: str | None = None
    system_info: dict[str, Any] | None = None
    expected_behaviour: str | None = None
    actual_behaviour: str | None = None
    use_case: str | None = None
    importance: str | None = None
    votes: int = 0
    feature_status: str | None = None
    """For feature requests: under_review, planned, declined or done (what support decided)."""
    duplicate_of: dict[str, str] | None = None
    group: dict[str, int] | None = None
    vendor: VendorView | None = None
    reporter: ReporterView
    source: dict[str, Any] | None = None
    """For tickets an integration opened: the source (Alertmanager group and its alerts with labels and
    annotations, Events API dedup key and details, Slack channel and user) and what it last said (`state`)."""
    sla: SlaView | None = None
    triage: TriageView | None = None
    resolution: ResolutionView | None = None
    first_response_at: datetime | None = None
    reopened_count: int = 0
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineEntry]
    timeline_archived: int = 0
    """How many older entries are not shown here (page them with GET …/timeline?before=<seq>)."""

    @classmethod
    def from_document(cls, document: dict[str, Any], *, include_internal: bool, now: datetime,
                      calendar: BusinessCalendar) -> TicketView:
        """Return the view of a stored ticket at now; internal timeline entries and clock details only when asked."""
        timeline = [
            entry for entry in document.get("timeline", [])
            if include_internal or entry.get("visibility", "public") == "public"
        ]
        sla = document.get("sla") if document.get("triage") else None  # shown once triage decided the targets
        if isinstance(sla, dict):
            clocks = [clock_summary(target, clock, document.get(OUTCOME_FIELD[target]), now, calendar)
                      for target, clock in (sla.get("clocks") or {}).items() if target in OUTCOME_FIELD]
            if not include_internal:
                clocks = [{key: c[key] for key in PUBLIC_CLOCK_FIELDS} for c in clocks]
            sla = {**sla, "clocks": clocks}
        vendor = document.get("vendor") if include_internal and isinstance(document.get("vendor"), dict) else None
        # another reporter's ticket: a reporter never learns its number or id through duplicate grouping
        duplicate_of = document.get("duplicate_of") if include_internal else None
        return cls.model_validate({**document, "id": document["_id"], "timeline": timeline, "sla": sla or None,
                                   "vendor": vendor, "duplicate_of": duplicate_of})


class TicketSummaryView(BaseModel):
    """A ticket in a list: what the row shows, with its response and resolution clocks as they stand now."""

    id: str
    number: str
    title: str
    kind: TicketKind
    type: IncidentType | None = None
    status: str
    severity: Severity | None = None
    reported_severity: Severity | None = None
    tier: int | None = None
    team: str | None = None
    assignee: str | None = None
    reporter: ReporterView
    created_at: datetime
    votes: int = 0
    clocks: list[SlaClockView] = []

    @classmethod
    def from_entry(cls, entry: dict[str, Any], *, staff: bool, now: datetime, calendar: BusinessCalendar) -> TicketSummaryView:
        """Return the row of a view entry at now; reporters see the public part of the clocks."""
        outcomes = {target: entry.get(field) for target, field in OUTCOME_FIELD.items()}
        clocks = [clock_summary(target, clock, outcomes.get(target), now, calendar)
                  for target, clock in (entry.get("clocks") or {}).items()]
        fields = PUBLIC_CLOCK_FIELDS + (("used_fraction", "outcome") if staff else ())
        clocks = [{key: c[key] for key in fields} for c in clocks]
        return cls.model_validate({**entry, "clocks": clocks})


class TicketPage(BaseModel):
    """One page of tickets, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[TicketSummaryView]
    next_cursor: str | None = None


class TimelinePage(BaseModel):
    """Older timeline entries of a ticket, newest first; pass `next_before` as `before` for the next page."""

    items: list[TimelineEntry]
    next_before: int | None = None


class FeatureRequestSummary(BaseModel):
    """A feature request as every user sees it, for voting."""

    number: str
    title: str
    use_case: str | None = None
    importance: str | None = None
    status: str
    feature_status: str = "under_review"
    """What support decided: under_review, planned, declined or done."""
    votes: int
    created_at: datetime


class AttachmentView(BaseModel):
    """An attachment's metadata; download it from `href`."""

    id: str
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime
    href: str
