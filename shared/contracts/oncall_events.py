"""Contracts of on-call hand-offs: a shift started (escalation), and the notice with the team's open work (intake)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.escalation_events import PagedPerson
from shared.contracts.events import TICKET_NUMBER_PATTERN, Contract

HANDOFF_TICKETS_LISTED = 50
"""Tickets a hand-off notice lists at most (the count says how many there are)."""


class OnCallShiftStarted(Contract):
    """Someone's on-call shift on a schedule started; sent once per (schedule, person, start)."""

    EVENT_TYPE: ClassVar[str] = "oncall.shift_started"
    EVENT_VERSION: ClassVar[int] = 1

    team: str = Field(min_length=1, max_length=100)
    schedule_id: str = Field(min_length=1, max_length=100)
    person: PagedPerson
    start: AwareDatetime
    end: AwareDatetime


class HandoffTicket(BaseModel):
    """One open ticket of the team, as a hand-off notice lists it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    number: str = Field(pattern=TICKET_NUMBER_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    severity: str | None = Field(default=None, max_length=20)
    status: str = Field(min_length=1, max_length=30)
    standing: Literal["overdue", "at_risk", "on_track"]


class OnCallHandoffNotice(OnCallShiftStarted):
    """The notice for the person whose shift started: the team's open tickets, overdue and at risk first."""

    EVENT_TYPE: ClassVar[str] = "oncall.handoff_notice"
    EVENT_VERSION: ClassVar[int] = 1

    open_count: int = Field(ge=0)
    at_risk_count: int = Field(ge=0)
    overdue_count: int = Field(ge=0)
    tickets: list[HandoffTicket] = Field(default_factory=list, max_length=HANDOFF_TICKETS_LISTED)
