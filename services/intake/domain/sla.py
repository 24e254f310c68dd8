"""The ticket's SLA, as escalation's clocks report it: what a clock event or an outcome changes (pure).

Escalation owns the clocks; intake records every change on the ticket (`sla.clocks.<target>`,
the due times and a timeline entry) and stores each target's outcome once (`sla_response`,
`sla_resolution`, `sla_handoff`), so the report reads exactly what the counters counted. What is
left, at risk or late is computed from the stored clock with the same arithmetic escalation uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain.tickets import set_within, system_actor, timeline_entry, when
from shared.contracts.sla_events import SlaClockChanged, SlaMeasured
from shared.sla.calendar import BusinessCalendar
from shared.sla.clocks import RUNNING, elapsed_at, paused_at, remaining_at, used_fraction

OUTCOME_FIELD = {"response": "sla_response", "resolution": "sla_resolution", "handoff": "sla_handoff"}
TARGET_WORDS = {"response": "response", "resolution": "resolution", "handoff": "contact by the new team"}
PUBLIC_CHANGES = ("paused", "resumed", "retargeted")
"""Clock changes a reporter sees on the timeline; starts and stops are support's business."""


def clock_change_fields(ticket: dict[str, Any], event: SlaClockChanged) -> dict[str, Any]:
    """Return the ticket fields a clock change sets: the clock's state and, while it runs, the target's due time."""
    clock = event.clock.model_dump(mode="python")
    sla = ticket.get("sla") if isinstance(ticket.get("sla"), dict) else {}
    clocks = {**(sla.get("clocks") or {}), event.target: clock}
    values: dict[str, Any] = {"clocks": clocks}
    if clock["state"] == RUNNING and clock["due_at"] is not None:
        values[f"{event.target}_due_at"] = clock["due_at"]
    return set_within(ticket, "sla", values)


def clock_change_entry(event: SlaClockChanged, now: datetime) -> dict[str, Any]:
    """Return the timeline entry of a clock change: 'SLA clock paused: waiting for your answer' and the like."""
    target = TARGET_WORDS[event.target]
    due = event.clock.due_at
    detail = {
        "started": f"SLA clock started: {target} due {when(due)}" if due else f"SLA clock started for the {target}",
        "paused": f"SLA clock paused ({target}): {event.reason}",
        "resumed": f"SLA clock resumed: {target} now due {when(due)}" if due else f"SLA clock resumed ({target})",
        "retargeted": (f"SLA target changed ({event.reason}): {target} now due {when(due)}" if due
                       else f"SLA target changed ({event.reason})"),
        "stopped": f"SLA clock stopped ({target}): {event.reason}",
    }[event.change]
    entry = timeline_entry(now, system_actor("escalation"), f"sla_clock_{event.change}", detail,
                           target=event.target, due_at=due, old_due_at=event.old_due_at)
    entry["visibility"] = "public" if event.change in PUBLIC_CHANGES else "internal"
    return entry


def outcome_document(event: SlaMeasured) -> dict[str, Any]:
    """Return the stored outcome of a target, as the report and the counters read it."""
    return {"severity": event.severity.value if event.severity else None, "outcome": event.outcome,
            "elapsed_seconds": event.elapsed_seconds, "at": event.at, "due_at": event.due_at,
            "business": event.business, "allowance": event.allowance}


def outcome_entry(event: SlaMeasured, now: datetime) -> dict[str, Any]:
    """Return the (support-only) timeline entry of a measured target."""
    verb = "met" if event.outcome == "met" else "missed"
    entry = timeline_entry(now, system_actor("escalation"), "sla_measured",
                           f"The {TARGET_WORDS[event.target]} target ({event.allowance or 'its allowance'}) was {verb}",
                           target=event.target, outcome=event.outcome, elapsed_seconds=event.elapsed_seconds)
    entry["visibility"] = "internal"
    return entry


def display_state(clock: dict[str, Any], outcome: dict[str, Any] | None, remaining: float) -> str:
    """Return running, paused, met, breached or stopped: a reached target shows its outcome, a late one breached."""
    if outcome is not None and clock["state"] != RUNNING:
        return outcome["outcome"]
    if clock["state"] == RUNNING and remaining < 0:
        return "breached"
    return clock["state"]


def clock_summary(target: str, clock: dict[str, Any], outcome: dict[str, Any] | None, now: datetime,
                  calendar: BusinessCalendar) -> dict[str, Any]:
    """Return what a person sees of one clock at now: state, due time, time left, time paused, allowance."""
    remaining = remaining_at(clock, now, calendar)
    return {
        "target": target,
        "state": display_state(clock, outcome, remaining),
        "due_at": clock.get("due_at"),
        "allowance": clock.get("allowance") or None,
        "business_time": bool(clock.get("business")),
        "time_left_seconds": round(remaining, 3),
        "time_used_seconds": round(elapsed_at(clock, now, calendar), 3),
        "paused_seconds": round(paused_at(clock, now), 3),
        "used_fraction": round(used_fraction(clock, now, calendar), 4),
        "outcome": outcome.get("outcome") if outcome else None,
    }
