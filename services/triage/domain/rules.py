"""Rule conditions over a report, severity rules and routes, as data read from configuration (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.contracts import IncidentType, Severity, TicketKind


@dataclass(frozen=True)
class Facts:
    """What rules can look at: the report's structured fields, its text, and (for routing) its severity."""

    kind: TicketKind
    type: IncidentType
    text: str
    users_affected: int | None = None
    production: bool | None = None
    workaround_available: bool | None = None
    component: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold; an empty set of conditions always holds."""

    kind: frozenset[TicketKind] = frozenset()
    type: frozenset[IncidentType] = frozenset()
    severity: frozenset[Severity] = frozenset()
    component: frozenset[str] = frozenset()
    production: bool | None = None
    workaround_available: bool | None = None
    users_affected_at_least: int | None = None
    users_affected_at_most: int | None = None
    text_matches: tuple[re.Pattern[str], ...] = ()

    def match(self, facts: Facts) -> dict[str, object] | None:
        """Return the values that matched (for the reason text), or None if any condition fails."""
        if self.kind and facts.kind not in self.kind:
            return None
        if self.type and facts.type not in self.type:
            return None
        if self.severity and facts.severity not in self.severity:
            return None
        if self.component and (facts.component or "").lower() not in self.component:
            return None
        for name in ("production", "workaround_available"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(facts, name) is not wanted:
                return None
        users = facts.users_affected
        if self.users_affected_at_least is not None and (users is None or users < self.users_affected_at_least):
            return None
        if self.users_affected_at_most is not None and (users is None or users > self.users_affected_at_most):
            return None
        matched = ""
        if self.text_matches:
            hit = next((m for p in self.text_matches if (m := p.search(facts.text))), None)
            if hit is None:
                return None
            matched = hit.group(0)
        return {
            "match": matched,
            "users_affected": users,
            "type": facts.type.value,
            "kind": facts.kind.value,
            "component": facts.component or "",
        }


@dataclass(frozen=True)
class SeverityRule:
    """If the conditions hold, the ticket has this severity; `reason` may use {match}, {users_affected}."""

    id: str
    severity: Severity
    reason: str
    when: Conditions = field(default_factory=Conditions)


@dataclass(frozen=True)
class Route:
    """If the conditions hold, the ticket goes to this tier (category names the spec's tier reason)."""

    id: str
    tier: int
    when: Conditions = field(default_factory=Conditions)


@dataclass(frozen=True)
class RuleBook:
    """Ordered severity rules and routes; in both lists the first match decides."""

    rules: tuple[SeverityRule, ...]
    routes: tuple[Route, ...]
    teams: dict[int, str]
    default_severity: Severity = Severity.MEDIUM
    default_tier: int = 2

    def __post_init__(self) -> None:
        for route in self.routes:
            if route.tier not in self.teams:
                raise ValueError(f"route {route.id!r} sends to Tier {route.tier}, which has no team")
        if self.default_tier not in self.teams:
            raise ValueError(f"the default Tier {self.default_tier} has no team")

    def first_rule(self, facts: Facts) -> tuple[SeverityRule, dict[str, object]] | None:
        """Return the first severity rule whose conditions hold, with what matched; None if none does."""
        for rule in self.rules:
            matched = rule.when.match(facts)
            if matched is not None:
                return rule, matched
        return None

    def route(self, facts: Facts) -> tuple[int, str, str]:
        """Return (tier, team, route id) for facts that include the decided severity."""
        for route in self.routes:
            if route.when.match(facts) is not None:
                return route.tier, self.teams[route.tier], route.id
        return self.default_tier, self.teams[self.default_tier], "default"
