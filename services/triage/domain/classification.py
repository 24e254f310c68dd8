"""Severity, tier and team for a reported ticket, decided by the configured rule book (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.triage.domain.rules import Facts, RuleBook
from shared.contracts import IncidentType, Severity, TicketKind


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
    component: str | None = None
    severity_pinned: bool = False
    """The reported severity is authoritative (an integration's mapping, #critical-incidents): no rule overrides it."""

    def facts(self, severity: Severity | None = None) -> Facts:
        """Return the facts rules look at; text is title and description, lower-cased."""
        return Facts(
            kind=self.kind,
            type=self.type,
            text=f"{self.title}\n{self.description}".lower(),
            users_affected=self.users_affected,
            production=self.production,
            workaround_available=self.workaround_available,
            component=self.component,
            severity=severity,
        )

    def with_users_affected(self, users: int) -> Report:
        """Return the same report as if `users` users were affected (growth of a duplicate group)."""
        return replace(self, users_affected=users)


@dataclass(frozen=True)
class Decision:
    """Triage's verdict, with the rule that decided and a reason a person can read."""

    severity: Severity
    rule: str
    reason: str
    tier: int
    team: str
    route: str = "default"


def classify(report: Report, rulebook: RuleBook) -> Decision:
    """Return severity, tier and team; the spec's criteria win over the reporter's own guess."""
    severity, rule, reason = _severity(report, rulebook)
    return route(report, rulebook, severity, rule, reason)


def route(report: Report, rulebook: RuleBook, severity: Severity, rule: str, reason: str) -> Decision:
    """Return the decision for a given severity, routed to the tier and team the routes choose."""
    tier, team, route_id = rulebook.route(report.facts(severity))
    return Decision(severity=severity, rule=rule, reason=reason, tier=tier, team=team, route=route_id)


def _severity(report: Report, rulebook: RuleBook) -> tuple[Severity, str, str]:
    """Return (severity, rule id, reason): a pinned severity, else the first matching rule, else the reporter,
    else the default."""
    if report.severity_pinned and report.reported_severity is not None:
        return report.reported_severity, "source", ("the source's severity is kept (an integration's severity mapping, "
                                                       "or a mention in #critical-incidents)")
    found = rulebook.first_rule(report.facts())
    if found is not None:
        rule, matched = found
        return rule.severity, rule.id, _render(rule.reason, matched)
    if report.reported_severity is not None:
        return report.reported_severity, "reporter", "no criterion overrides the reporter's severity"
    return rulebook.default_severity, "default", "no criterion matched and the reporter gave no severity"


def _render(template: str, matched: dict[str, object]) -> str:
    """Return the reason with {placeholders} filled; unknown placeholders are left as written."""
    try:
        return template.format(**matched)
    except (KeyError, IndexError, ValueError):
        return template


def is_more_severe(candidate: Severity, current: Severity) -> bool:
    """Return True if `candidate` is a more severe level than `current` (Critical is level 1)."""
    return candidate.level < current.level
