"""One SLA clock (response, resolution or hand-off) as data: start, pause, resume, stop, due times (pure).

A target keeps the active time left (`remaining_seconds`) measured at `anchor_at`. While running,
its due time is the anchor plus the time left, counted in working time when the target is in
business days; pausing measures what is left and resuming starts from there, so paused time is
credited back. `gen` grows whenever the due time is replaced, so a new promise warns again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.triage.domain.calendar import BusinessCalendar

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
TARGETS = ("response", "resolution", "handoff")


@dataclass(frozen=True)
class Step:
    """A moment a target owes an event: a warning at a fraction of its budget, or the breach (1.0)."""

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


def new_target(now: datetime, due_at: datetime, budget_seconds: float, business: bool, paused: bool,
               calendar: BusinessCalendar, gen: int = 0) -> dict[str, Any]:
    """Return a target due at `due_at` measured from now; paused targets keep their time until resumed."""
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


def remaining_at(target: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float:
    """Return the active seconds left at now (negative when overdue)."""
    if target["state"] != RUNNING:
        return target["remaining_seconds"]
    return target["remaining_seconds"] - span(target["anchor_at"], now, target["business"], calendar)


def pause(target: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Stop the time of a running target, keeping what is left."""
    if target["state"] == RUNNING:
        target.update(remaining_seconds=remaining_at(target, now, calendar), anchor_at=now, state=PAUSED, due_at=None)


def resume(target: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Run a paused or stopped target again from now with the time it had left (paused time credited)."""
    if target["state"] in (PAUSED, STOPPED):
        target.update(state=RUNNING, anchor_at=now, stopped_at=None,
                      due_at=advance(now, target["remaining_seconds"], target["business"], calendar))


def stop(target: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Stop a target (met, or no longer relevant); the time left is kept for a later restart."""
    if target["state"] != STOPPED:
        target.update(remaining_seconds=remaining_at(target, now, calendar), anchor_at=now, state=STOPPED,
                      due_at=None, stopped_at=now)


def replace_due(target: dict[str, Any], now: datetime, due_at: datetime, budget_seconds: float, business: bool,
                calendar: BusinessCalendar) -> None:
    """Replace the due time (reclassification) keeping the state; warnings of the new promise fire again."""
    target.update(gen=target["gen"] + 1, business=business, budget_seconds=float(budget_seconds), anchor_at=now,
                  remaining_seconds=span(now, due_at, business, calendar))
    if target["state"] == RUNNING:
        target["due_at"] = due_at


def steps(name: str, target: dict[str, Any], fractions: tuple[float, ...], calendar: BusinessCalendar) -> list[Step]:
    """Return the warning and breach steps of a running target, in time order (keys identify each once)."""
    if target["state"] != RUNNING:
        return []
    anchor, remaining, budget = target["anchor_at"], target["remaining_seconds"], target["budget_seconds"]
    due_at = advance(anchor, remaining, target["business"], calendar)
    found = []
    for fraction in fractions:
        at = advance(anchor, remaining - (1 - fraction) * budget, target["business"], calendar)
        found.append(Step(f"{name}.{target['gen']}.warning.{round(fraction * 100)}", name, fraction, at, due_at))
    found.append(Step(f"{name}.{target['gen']}.breached", name, 1.0, due_at, due_at))
    return found
