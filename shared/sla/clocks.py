"""One SLA clock (the running state of a response, resolution or hand-off target) as data (pure).

A clock keeps the active time left (`remaining_seconds`) measured at `anchor_at`. While running,
its due time is the anchor plus the time left, counted in working time when the target's allowance
is in business days; pausing measures what is left and resuming starts from there, so paused time
is credited back. `gen` grows whenever the due time is replaced, so a new promise warns again.

Escalation runs the clocks and publishes every change of one; intake stores the same dicts on the
ticket, so both read a clock with the functions here and agree on what is left and what is late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.sla.calendar import BusinessCalendar

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"


@dataclass(frozen=True)
class Step:
    """A moment a clock owes an event: a warning at a fraction of its budget, or the breach (1.0)."""

    key: str
    target: str
    fraction: float
    at: datetime
    due_at: datetime

    @property
    def is_breach(self) -> bool:
        """Return True for the breach step."""
        return self.fraction >= 1


def span(start: datetime, end: datetime, business: bool, calendar: BusinessCalendar) -> float:
    """Return the active seconds from start to end (negative if end is earlier); working time if business."""
    if not business:
        return (end - start).total_seconds()
    if end >= start:
        return calendar.working_time_between(start, end).total_seconds()
    return -calendar.working_time_between(end, start).total_seconds()


def advance(start: datetime, seconds: float, business: bool, calendar: BusinessCalendar) -> datetime:
    """Return the instant `seconds` of active time after start (never before start when overdue)."""
    if seconds <= 0:
        return start
    if business:
        return calendar.add_working_time(start, timedelta(seconds=seconds))
    return start + timedelta(seconds=seconds)


def new_clock(now: datetime, due_at: datetime, budget_seconds: float, business: bool, paused: bool,
              calendar: BusinessCalendar, gen: int = 0) -> dict[str, Any]:
    """Return a clock due at `due_at` measured from now; a paused clock keeps its time until resumed."""
    remaining = span(now, due_at, business, calendar)
    return {
        "state": PAUSED if paused else RUNNING,
        "gen": gen,
        "business": business,
        "budget_seconds": float(budget_seconds),
        "anchor_at": now,
        "remaining_seconds": remaining,
        "due_at": None if paused else due_at,
        "stopped_at": None,
    }


def remaining_at(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float:
    """Return the active seconds left at now (negative when overdue)."""
    if clock["state"] != RUNNING:
        return clock["remaining_seconds"]
    return clock["remaining_seconds"] - span(clock["anchor_at"], now, clock["business"], calendar)


def used_fraction(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float:
    """Return the share of the budget used at now (above 1 when overdue; 0 for an empty budget)."""
    budget = clock["budget_seconds"]
    return (budget - remaining_at(clock, now, calendar)) / budget if budget > 0 else 0.0


def pause(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Stop the time of a running clock, keeping what is left."""
    if clock["state"] == RUNNING:
        clock.update(remaining_seconds=remaining_at(clock, now, calendar), anchor_at=now, state=PAUSED, due_at=None)


def resume(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Run a paused or stopped clock again from now with the time it had left (paused time credited)."""
    if clock["state"] in (PAUSED, STOPPED):
        clock.update(state=RUNNING, anchor_at=now, stopped_at=None,
                     due_at=advance(now, clock["remaining_seconds"], clock["business"], calendar))


def stop(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Stop a clock (met, or no longer relevant); the time left is kept for a later restart."""
    if clock["state"] != STOPPED:
        clock.update(remaining_seconds=remaining_at(clock, now, calendar), anchor_at=now, state=STOPPED,
                     due_at=None, stopped_at=now)


def retarget(clock: dict[str, Any], now: datetime, due_at: datetime, budget_seconds: float, business: bool,
             calendar: BusinessCalendar) -> None:
    """Replace the due time (reclassification) keeping the state; warnings of the new promise fire again."""
    clock.update(gen=clock["gen"] + 1, business=business, budget_seconds=float(budget_seconds), anchor_at=now,
                 remaining_seconds=span(now, due_at, business, calendar))
    if clock["state"] == RUNNING:
        clock["due_at"] = due_at


def steps(target: str, clock: dict[str, Any], fractions: tuple[float, ...], calendar: BusinessCalendar) -> list[Step]:
    """Return the warning and breach steps of a running clock, in time order (keys identify each once)."""
    if clock["state"] != RUNNING:
        return []
    anchor, remaining, budget = clock["anchor_at"], clock["remaining_seconds"], clock["budget_seconds"]
    due_at = advance(anchor, remaining, clock["business"], calendar)
    found = []
    for fraction in fractions:
        at = advance(anchor, remaining - (1 - fraction) * budget, clock["business"], calendar)
        found.append(Step(f"{target}.{clock['gen']}.warning.{round(fraction * 100)}", target, fraction, at, due_at))
    found.append(Step(f"{target}.{clock['gen']}.breached", target, 1.0, due_at, due_at))
    return found
