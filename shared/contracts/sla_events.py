"""Contracts of the SLA clocks, published by escalation (the one owner of clock state).

Every change of a clock is a fact on the bus: `sla.clock_changed` (started, paused, resumed,
retargeted, stopped) carries the clock's whole state, so intake can show it and compute what is
left with the same arithmetic (shared/sla/clocks.py); `sla.measured` is a target's outcome, sent
once per ticket and target when the response, resolution or hand-off contact happens. Warnings
and breaches are `sla.warning` and `sla.breached` (shared/contracts/escalation_events.py).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.escalation_events import EscalationFacts, SlaTarget

ClockChange = Literal["started", "paused", "resumed", "retargeted", "stopped"]
ClockState = Literal["running", "paused", "stopped"]


class SlaClock(BaseModel):
    """A clock's state as escalation stores it: what is left at `anchor_at`, and the time used and paused so far."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    state: ClockState
    gen: int = Field(ge=0)
    business: bool
    budget_seconds: float = Field(ge=0)
    anchor_at: AwareDatetime
    remaining_seconds: float
    due_at: AwareDatetime | None = None
    stopped_at: AwareDatetime | None = None
    active_seconds: float = Field(default=0.0, ge=0)
    active_business_seconds: float = Field(default=0.0, ge=0)
    paused_seconds: float = Field(default=0.0, ge=0)
    allowance: str = Field(default="", max_length=100)
    """The target in words, e.g. '4 hours' or '1 business day'."""


class SlaClockChanged(EscalationFacts):
    """A clock started, paused, resumed, got a new due time (reclassification) or stopped; `clock` is its new state."""

    EVENT_TYPE: ClassVar[str] = "sla.clock_changed"
    EVENT_VERSION: ClassVar[int] = 1

    target: SlaTarget
    change: ClockChange
    clock: SlaClock
    reason: str = Field(min_length=1, max_length=500)
    """Why, in words: the status that paused it, the reclassification, the response that stopped it."""
    old_due_at: AwareDatetime | None = None
    changed_at: AwareDatetime


class SlaMeasured(EscalationFacts):
    """A target's outcome, measured once per ticket when the response, resolution or hand-off contact happened.

    `elapsed_seconds` is the active time from the start to that moment: working time for targets in
    business days, round-the-clock time otherwise, paused time credited. Met means no later than due.
    """

    EVENT_TYPE: ClassVar[str] = "sla.measured"
    EVENT_VERSION: ClassVar[int] = 1

    target: SlaTarget
    outcome: Literal["met", "breached"]
    elapsed_seconds: float = Field(ge=0)
    due_at: AwareDatetime
    at: AwareDatetime
    business: bool
    allowance: str = Field(default="", max_length=100)
