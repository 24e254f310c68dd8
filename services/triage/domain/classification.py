"""Severity, tier and team for a reported ticket, from KB-005's criteria (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contracts import IncidentType, Severity, TicketKind

CRITICAL_PHRASES = (
    r"platform (is )?down",
    r"\boutage\b",
    r"security breach",
    r"data (loss|corruption)",
    r"\bcorrupt(ed)? data\b",
    r"all users",
    r"business (operations )?halted",
)
HIGH_PHRASES = (r"major feature", r"no workaround", r"vulnerabilit", r"data at risk", r"\bbroken\b")
LARGE_GROUP = 100


@dataclass(frozen=True)
class Report:
    """What triage looks at: the reporter's structured fields and free text."""

    kind: TicketKind
    type: IncidentType
    title: str
    description: str
    reported_severity: Severity | None = None
    users_affected: int | None = None
    production: bool | None = None
    workaround_available: bool | None = None


@dataclass(frozen=True)
class Decision:
    """Triage's verdict, with the rule that decided and a reason a person can read."""

    severity: Severity
    rule: str
    reason: str
    tier: int
    team: str


TEAMS = {1: "service-desk", 2: "technical-support", 3: "senior-engineering", 4: "vendor-management"}
TIER_BY_TYPE = {
    IncidentType.ACCESS: 1,
    IncidentType.FEATURE: 2,
    IncidentType.PERFORMANCE: 2,
    IncidentType.DATA: 2,
    IncidentType.SECURITY: 3,
    IncidentType.INFRASTRUCTURE: 3,
}


def classify(report: Report) -> Decision:
    """Return severity, tier and team; the spec's criteria win over the reporter's own guess."""
    severity, rule, reason = _severity(report)
    tier = 3 if severity is Severity.CRITICAL else TIER_BY_TYPE[report.type]
    return Decision(severity=severity, rule=rule, reason=reason, tier=tier, team=TEAMS[tier])


def _severity(report: Report) -> tuple[Severity, str, str]:
    """Return (severity, rule id, reason) for a report."""
    text = f"{report.title}\n{report.description}".lower()
    if report.kind is TicketKind.FEATURE_REQUEST:
        return Severity.LOW, "feature-request", "feature requests are Low (KB-005 Severity 4)"
    for phrase in CRITICAL_PHRASES:
        if re.search(phrase, text):
            return Severity.CRITICAL, "critical-text", f"the report mentions a Critical criterion ({phrase!r})"
    if report.users_affected is not None and report.users_affected >= LARGE_GROUP:
        return Severity.CRITICAL, "large-group", f"{report.users_affected} users affected (>= {LARGE_GROUP})"
    if report.type is IncidentType.SECURITY:
        return Severity.HIGH, "security-type", "security issues are at least High"
    for phrase in HIGH_PHRASES:
        if re.search(phrase, text):
            return Severity.HIGH, "high-text", f"the report mentions a High criterion ({phrase!r})"
    if report.reported_severity is not None:
        return report.reported_severity, "reporter", "no criterion overrides the reporter's severity"
    return Severity.MEDIUM, "default", "no criterion matched and the reporter gave no severity"
