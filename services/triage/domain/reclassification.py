"""New SLA due times when a ticket's severity changes, crediting the time already spent (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import Severity
from services.triage.domain.sla import Deadlines, SlaPolicy, Target


@dataclass(frozen=True)
class Rescheduled:
    """Old and new due times of a reclassified ticket and the time that carried over."""

    old: Deadlines
    new: Deadlines
    spent: timedelta
    """Active (unpaused) wall-clock time between the clocks' start and the change."""
    paused: timedelta


def reschedule(
    policy: SlaPolicy,
    severity: Severity,
    *,
    started_at: datetime,
    changed_at: datetime,
    paused: timedelta,
    old: Deadlines,
    carry_over: bool = True,
) -> Rescheduled:
    """Return the due times under `severity`'s targets from `changed_at`.

    With carry_over the active time already spent counts against the new targets (a raise can make
    a target due at once); without it the new targets run in full from the change. The
    acknowledgement target does not depend on severity and is kept.
    """
    if changed_at < started_at:
        raise ValueError("a severity change cannot precede the start of the SLA clocks")
    paused = max(paused, timedelta(0))
    targets = policy.targets[severity]
    new = Deadlines(
        acknowledge_due_at=old.acknowledge_due_at,
        response_due_at=_due(policy, targets.response, started_at, changed_at, paused, carry_over),
        resolution_due_at=_due(policy, targets.resolution, started_at, changed_at, paused, carry_over),
    )
    spent = max(changed_at - started_at - paused, timedelta(0))
    return Rescheduled(old=old, new=new, spent=spent, paused=paused)


def _due(
    policy: SlaPolicy, target: Target, started_at: datetime, changed_at: datetime, paused: timedelta, carry_over: bool
) -> datetime:
    """Return when what is left of `target` after the spent time runs out, counted from the change."""
    calendar = policy.calendar
    if target.on_business_time:
        elapsed = calendar.working_time_between(started_at, changed_at)
    else:
        elapsed = changed_at - started_at
    spent = max(elapsed - paused, timedelta(0)) if carry_over else timedelta(0)
    remaining = max(target.budget(calendar) - spent, timedelta(0))
    if target.on_business_time:
        return calendar.add_working_time(changed_at, remaining)
    return changed_at + remaining
