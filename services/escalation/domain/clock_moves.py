"""Every change of a ticket's clocks together with the fact it owes on the bus (pure).

Escalation is the one owner of clock state: each start, pause, resume, new due time and stop is
published as `sla.clock_changed` with the clock's whole state, and reaching a target is measured
once per ticket (`sla.measured`), with the same arithmetic intake uses to show what is left.
"""

from __future__ import annotations

from typing import Any

from services.escalation.domain.effects import Context, Effects, facts
from shared.contracts.escalation_events import SlaBreached
from shared.contracts.sla_events import SlaClock, SlaClockChanged, SlaMeasured
from shared.sla.clocks import STOPPED, measure, new_clock, pause, resume, retarget, stop

PAUSE_REASONS = {"waiting_for_info": "waiting for the reporter's answer",
                 "on_hold": "on hold, waiting for a third party"}


def _published(doc: dict[str, Any], target: str, change: str, reason: str, ctx: Context, fx: Effects,
               old_due_at: Any = None) -> None:
    """Owe `sla.clock_changed` for one clock's new state."""
    fx.emit(SlaClockChanged(**facts(doc), target=target, change=change, clock=SlaClock(**doc["clocks"][target]),
                            reason=reason[:500], old_due_at=old_due_at, changed_at=ctx.now))


def breached_before(fired: set[str] | list[str], target: str) -> bool:
    """Return True if a response or resolution target breached under any promise: it warns and breaches no more.

    A reclassification gives the target a new promise, which warns again; but a target once late
    stays late, so a shorter new promise does not report (and escalate) the same lateness twice.
    The hand-off is a new promise per escalation and is never suppressed.
    """
    return target != "handoff" and any(key.startswith(f"{target}.") and key.endswith(".breached") for key in fired)


def measurement_key(target: str, clock: dict[str, Any]) -> str:
    """Return the key a target is measured under: once per ticket, the hand-off once per escalation.

    It is a field name of the stored record, so it holds no dot (the docstore refuses one, and MongoDB
    reads a dotted name in an update as a path).
    """
    return f"handoff_{clock['gen']}" if target == "handoff" else target


def start_clock(doc: dict[str, Any], target: str, started_at: Any, due_at: Any, budget_seconds: float,
                business: bool, allowance: str, reason: str, ctx: Context, fx: Effects) -> None:
    """Start (or restart, one generation on) the target's clock, paused if the ticket is waiting."""
    previous = doc["clocks"].get(target)
    gen = previous["gen"] + 1 if previous is not None else 0
    doc["clocks"][target] = new_clock(started_at, ctx.now, due_at, budget_seconds, business,
                                      doc.get("paused_since") is not None, ctx.policy.calendar,
                                      allowance=allowance, gen=gen)
    _published(doc, target, "started", reason, ctx, fx)


def pause_clocks(doc: dict[str, Any], status: str, ctx: Context, fx: Effects) -> None:
    """Pause every running clock (Waiting for Info, On Hold): their time is credited back on resume."""
    for target, clock in doc["clocks"].items():
        old_due_at = clock.get("due_at")
        if pause(clock, ctx.now, ctx.policy.calendar):
            _published(doc, target, "paused", PAUSE_REASONS.get(status, status), ctx, fx, old_due_at)


def resume_paused_clocks(doc: dict[str, Any], reason: str, ctx: Context, fx: Effects) -> None:
    """Run every paused clock again with the time it had left: its due time moves by the time it was paused."""
    for target, clock in doc["clocks"].items():
        if clock["state"] != "paused":
            continue
        resume(clock, ctx.now, ctx.policy.calendar)
        _published(doc, target, "resumed", reason, ctx, fx)


def restart_clock(doc: dict[str, Any], target: str, reason: str, ctx: Context, fx: Effects) -> None:
    """Run a stopped clock again with the time it had left (a reopened ticket's resolution clock)."""
    clock = doc["clocks"].get(target)
    if clock is not None and clock["state"] == STOPPED and resume(clock, ctx.now, ctx.policy.calendar):
        _published(doc, target, "resumed", reason, ctx, fx)


def reach(doc: dict[str, Any], target: str, reason: str, ctx: Context, fx: Effects) -> None:
    """The target was reached (response, resolution, contact): measure it once, then stop its clock.

    Met means reached no later than due and never breached before (a breach, once fired, stands even
    if a reclassification later gives more time); reached late before the timer noticed, the
    breach is reported now, so a breached outcome always comes with one `sla.breached`.
    """
    clock = doc["clocks"].get(target)
    if clock is None:
        return
    key = measurement_key(target, clock)
    measured = doc.setdefault("measured", {})
    if key not in measured:
        result = measure(clock, ctx.now, ctx.policy.calendar)
        late = (f"handoff.{clock['gen']}.breached" in doc["fired"] if target == "handoff"
                else breached_before(doc["fired"], target))
        outcome = "met" if result.met and not late else "breached"
        if outcome == "breached" and not late:  # reached late, before the timer noticed
            doc["fired"].append(f"{target}.{clock['gen']}.breached")
            fx.emit(SlaBreached(**facts(doc), target=target, due_at=result.due_at, at=ctx.now))
        measured[key] = {"outcome": outcome, "elapsed_seconds": result.elapsed_seconds, "due_at": result.due_at,
                         "at": result.at, "severity": doc.get("severity")}
        fx.emit(SlaMeasured(**facts(doc), target=target, outcome=outcome, elapsed_seconds=result.elapsed_seconds,
                            due_at=result.due_at, at=result.at, business=clock["business"],
                            allowance=clock.get("allowance", "")))
    stop_clock(doc, target, reason, ctx, fx)


def stop_clock(doc: dict[str, Any], target: str, reason: str, ctx: Context, fx: Effects) -> None:
    """Stop a clock that no longer runs (its time left is kept for a restart)."""
    clock = doc["clocks"].get(target)
    if clock is not None and stop(clock, ctx.now, ctx.policy.calendar):
        _published(doc, target, "stopped", reason, ctx, fx)


def retarget_clock(doc: dict[str, Any], target: str, reason: str, ctx: Context, fx: Effects) -> None:
    """Give a clock its new severity's allowance (reclassification), carrying over the time used if configured."""
    clock = doc["clocks"].get(target)
    allowance = ctx.policy.sla.allowance(doc.get("severity"), target)
    if clock is None or clock["state"] == STOPPED or allowance is None:
        return
    old_due_at = clock.get("due_at")
    retarget(clock, ctx.now, allowance.budget(ctx.policy.calendar).total_seconds(), allowance.on_business_time,
             ctx.policy.calendar, carry_over=ctx.policy.sla.carry_over_spent_time, allowance=allowance.describe())
    _published(doc, target, "retargeted", reason, ctx, fx, old_due_at)
