"""The triage rules file (YAML): severity rules, routes to tiers and the duplicate window.

Teams per tier, SLA allowances and the business calendar are not here: they live in the service
levels file every service reads (shared/sla/config.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from services.triage.domain.policy import TriagePolicy
from services.triage.domain.rules import Conditions, Route, RuleBook, SeverityRule
from shared.config_files import LoadedFile, load_config
from shared.contracts import IncidentType, Severity, TicketKind
from shared.sla.config import Strict
from shared.sla.policy import ServiceLevels

DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "rules.yaml"


def _valid_regex(pattern: str) -> str:
    """Return the pattern if it compiles, else raise naming the regular-expression error."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


Regex = Annotated[str, AfterValidator(_valid_regex)]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]


class ConditionsModel(Strict):
    """Conditions as written in the file."""

    kind: list[TicketKind] = []
    type: list[IncidentType] = []
    severity: list[Severity] = []
    component: list[str] = []
    production: bool | None = None
    workaround_available: bool | None = None
    users_affected_at_least: int | None = Field(default=None, ge=0)
    users_affected_at_most: int | None = Field(default=None, ge=0)
    text_matches: list[Regex] = []

    def build(self) -> Conditions:
        """Return the domain conditions (regular expressions compiled)."""
        return Conditions(
            kind=frozenset(self.kind),
            type=frozenset(self.type),
            severity=frozenset(self.severity),
            component=frozenset(c.lower() for c in self.component),
            production=self.production,
            workaround_available=self.workaround_available,
            users_affected_at_least=self.users_affected_at_least,
            users_affected_at_most=self.users_affected_at_most,
            text_matches=tuple(re.compile(p) for p in self.text_matches),
        )


class RuleModel(Strict):
    id: RuleId
    severity: Severity
    reason: str = Field(min_length=1, max_length=500)
    when: ConditionsModel = ConditionsModel()


class SeveritySection(Strict):
    default: Severity
    rules: list[RuleModel]

    @field_validator("rules")
    @classmethod
    def _reserved_ids(cls, rules: list[RuleModel]) -> list[RuleModel]:
        for rule in rules:
            if rule.id in ("reporter", "default"):
                raise ValueError(f"rule id {rule.id!r} is reserved")
        return rules


class RouteModel(Strict):
    id: RuleId
    tier: int = Field(ge=1, le=4)
    when: ConditionsModel = ConditionsModel()


class RoutingSection(Strict):
    default_tier: int = Field(ge=1, le=4)
    routes: list[RouteModel]


class DuplicatesSection(Strict):
    window_hours: float = Field(gt=0, le=24 * 365)


class RulesFile(Strict):
    """The whole rules file."""

    severity: SeveritySection
    routing: RoutingSection
    duplicates: DuplicatesSection

    def build(self, levels: ServiceLevels) -> TriagePolicy:
        """Return the policy this file describes, routing to the teams of the service levels."""
        rulebook = RuleBook(
            rules=tuple(SeverityRule(r.id, r.severity, r.reason, r.when.build()) for r in self.severity.rules),
            routes=tuple(Route(r.id, r.tier, r.when.build()) for r in self.routing.routes),
            teams=dict(levels.teams),
            default_severity=self.severity.default,
            default_tier=self.routing.default_tier,
        )
        return TriagePolicy(rulebook=rulebook, sla=levels.sla,
                            duplicate_window=timedelta(hours=self.duplicates.window_hours))


def load_rules(levels: ServiceLevels, path: Path | None = None, *, loaded: list[LoadedFile] | None = None) -> TriagePolicy:
    """Return the triage policy in the rules file (the packaged KB-005 rules if None); raises ConfigFileError.

    The text read is appended to `loaded` when given.
    """
    return load_config(path or DEFAULT_RULES_FILE, RulesFile, what="triage rules file", loaded=loaded).build(levels)
