"""Everything triage decides by: rule book, SLA policy, duplicate window (pure, built from config)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.triage.domain.rules import RuleBook
from services.triage.domain.sla import SlaPolicy


@dataclass(frozen=True)
class TriagePolicy:
    """The configured behaviour of triage; `carry_over_spent_time` governs reclassification."""

    rulebook: RuleBook
    sla: SlaPolicy
    duplicate_window: timedelta = timedelta(hours=24)
    carry_over_spent_time: bool = True
