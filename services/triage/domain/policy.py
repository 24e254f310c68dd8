"""Everything triage decides by: rule book, SLA policy, duplicate window (pure, built from config)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.triage.domain.rules import RuleBook
from shared.sla.policy import SlaPolicy


@dataclass(frozen=True)
class TriagePolicy:
    """The configured behaviour of triage: its rules, the shared SLA policy and the duplicate window."""

    rulebook: RuleBook
    sla: SlaPolicy
    duplicate_window: timedelta = timedelta(hours=24)
