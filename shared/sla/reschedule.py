"""New SLA due times when a ticket's severity changes, crediting the time already spent (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import Severity
from shared.sla.policy import Allowance, Deadlines, SlaPolicy


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
) -> Rescheduled:
    """Return the due times under `severity`'s allowances from `changed_at`.

    With the policy's carry-over the active time already spent counts against the new allowances (a
    raise can make a target due at once); without it they run in full from the change. The
    acknowledgement target does not depend on severity and is kept.
    """
    if changed_at < started_at:
        raise ValueError("a severity change cannot precede the start of the SLA clocks")
    paused = max(paused, timedelta(0))
    allowances = policy.allowances[severity]
    new = Deadlines(
        acknowledge_due_at=old.acknowledge_due_at,
        response_due_at=_due(policy, allowances.response, started_at, changed_at, paused),
        resolution_due_at=_due(policy, allowances.resolution, started_at, changed_at, paused),
    )
    spent = max(changed_at - started_at - paused, timedelta(0))
    return Rescheduled(old=old, new=new, spent=spent, paused=paused)


def _due(policy: SlaPolicy, allowance: Allowance, started_at: datetime, changed_at: datetime,
         paused: timedelta) -> datetime:
    """Return when what is left of `allowance` after the spent time runs out, counted from the change."""
    calendar = policy.calendar
    if allowance.on_business_time:
        elapsed = calendar.working_time_between(started_at, changed_at)
    else:
        elapsed = changed_at - started_at
    spent = max(elapsed - paused, timedelta(0)) if policy.carry_over_spent_time else timedelta(0)
    remaining = max(allowance.budget(calendar) - spent, timedelta(0))
    if allowance.on_business_time:
        return calendar.add_working_time(changed_at, remaining)
    return changed_at + remaining
