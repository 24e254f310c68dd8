"""One SLA clock (the running state of a response, resolution or hand-off target) as data (pure).

A clock keeps the active time left (`remaining_seconds`) measured at `anchor_at`. While running,
its due time is the anchor plus the time left, counted in working time when the target's allowance
is in business days; pausing measures what is left and resuming starts from there, so paused time
is credited back. It also keeps the active time used so far, both round the clock and in working
time (so a reclassification to an allowance of the other kind can carry it over), and the
wall-clock time it spent paused. `gen` grows whenever the due time is replaced, so a new promise
warns again.

Escalation runs the clocks and publishes every change of one; intake stores the same dicts on the
ticket, so both read a clock with the functions here and agree on what is left, what is at risk,
what is late and, once the target is reached, whether it was met.
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


@dataclass(frozen=True)
class Measurement:
    """A target reached: met when no later than due, with the active time it took (in the allowance's kind)."""

    met: bool
    elapsed_seconds: float
    due_at: datetime
    at: datetime


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


def new_clock(started_at: datetime, now: datetime, due_at: datetime, budget_seconds: float, business: bool,
              paused: bool, calendar: BusinessCalendar, *, allowance: str = "", gen: int = 0) -> dict[str, Any]:
    """Return a clock started at `started_at` and due at `due_at`, as seen at now (paused: it keeps its time)."""
    started_at = min(started_at, now)
    return {
        "state": PAUSED if paused else RUNNING,
        "gen": gen,
        "business": business,
        "budget_seconds": float(budget_seconds),
        "anchor_at": now,
        "remaining_seconds": span(now, due_at, business, calendar),
        "due_at": None if paused else due_at,
        "stopped_at": None,
        "active_seconds": span(started_at, now, False, calendar),
        "active_business_seconds": span(started_at, now, True, calendar),
        "paused_seconds": 0.0,
        "allowance": allowance,
    }


def _settle_anchor(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> None:
    """Account the time since the anchor (active while running, paused while paused) and move the anchor to now."""
    anchor = clock["anchor_at"]
    if now > anchor:
        if clock["state"] == RUNNING:
            clock["remaining_seconds"] -= span(anchor, now, clock["business"], calendar)
            clock["active_seconds"] = clock.get("active_seconds", 0.0) + span(anchor, now, False, calendar)
            clock["active_business_seconds"] = (clock.get("active_business_seconds", 0.0)
                                                + span(anchor, now, True, calendar))
        elif clock["state"] == PAUSED:
            clock["paused_seconds"] = clock.get("paused_seconds", 0.0) + (now - anchor).total_seconds()
    clock["anchor_at"] = max(anchor, now)


def remaining_at(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float:
    """Return the active seconds left at now (negative when overdue)."""
    if clock["state"] != RUNNING:
        return clock["remaining_seconds"]
    return clock["remaining_seconds"] - span(clock["anchor_at"], now, clock["business"], calendar)


def elapsed_at(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar, business: bool | None = None) -> float:
    """Return the active seconds used from the start to now, in working time if business (default: the clock's kind)."""
    business = clock["business"] if business is None else business
    used = clock.get("active_business_seconds" if business else "active_seconds", 0.0)
    if clock["state"] == RUNNING and now > clock["anchor_at"]:
        used += span(clock["anchor_at"], now, business, calendar)
    return used


def paused_at(clock: dict[str, Any], now: datetime) -> float:
    """Return the wall-clock seconds the clock has spent paused up to now."""
    paused = clock.get("paused_seconds", 0.0)
    if clock["state"] == PAUSED and now > clock["anchor_at"]:
        paused += (now - clock["anchor_at"]).total_seconds()
    return paused


def used_fraction(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float:
    """Return the share of the budget used at now (above 1 when overdue; 0 for an empty budget)."""
    budget = clock["budget_seconds"]
    return (budget - remaining_at(clock, now, calendar)) / budget if budget > 0 else 0.0


def pause(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> bool:
    """Stop the time of a running clock, keeping what is left; return True if it was running."""
    if clock["state"] != RUNNING:
        return False
    _settle_anchor(clock, now, calendar)
    clock.update(state=PAUSED, due_at=None)
    return True


def resume(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> bool:
    """Run a paused or stopped clock again from now with the time it had left; return True if it was not running."""
    if clock["state"] == RUNNING:
        return False
    _settle_anchor(clock, now, calendar)
    clock.update(state=RUNNING, stopped_at=None,
                 due_at=advance(now, clock["remaining_seconds"], clock["business"], calendar))
    return True


def stop(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> bool:
    """Stop a clock (reached, or no longer relevant), keeping the time left; return True if it was not stopped."""
    if clock["state"] == STOPPED:
        return False
    _settle_anchor(clock, now, calendar)
    clock.update(state=STOPPED, due_at=None, stopped_at=now)
    return True


def measure(clock: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> Measurement:
    """Return the outcome of reaching the target at now: met if not past due, and the active time it took."""
    remaining = remaining_at(clock, now, calendar)
    if clock["state"] == RUNNING and clock["due_at"] is not None:
        due_at = clock["due_at"]
    elif remaining >= 0:  # reached while paused: when it would have fallen due from now
        due_at = advance(now, remaining, clock["business"], calendar)
    else:  # overdue while paused: about when it fell due
        due_at = now + timedelta(seconds=remaining)
    return Measurement(met=remaining >= 0, elapsed_seconds=max(elapsed_at(clock, now, calendar), 0.0),
                       due_at=due_at, at=now)


def retarget(clock: dict[str, Any], now: datetime, budget_seconds: float, business: bool,
             calendar: BusinessCalendar, *, carry_over: bool, allowance: str = "") -> None:
    """Give the clock a new allowance (reclassification), keeping its state; warnings of the new promise fire again.

    With carry_over the active time already used, in the new allowance's kind, counts against it
    (the new due time may already have passed); without it the new allowance runs in full from now.
    """
    _settle_anchor(clock, now, calendar)
    spent = elapsed_at(clock, now, calendar, business) if carry_over else 0.0
    clock.update(gen=clock["gen"] + 1, business=business, budget_seconds=float(budget_seconds),
                 remaining_seconds=float(budget_seconds) - spent, allowance=allowance or clock.get("allowance", ""))
    if clock["state"] == RUNNING:
        clock["due_at"] = advance(now, clock["remaining_seconds"], business, calendar)


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
