"""The escalation policy as data: tier moves per trigger, pages, vendors, timings (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from shared.sla.calendar import BusinessCalendar
from shared.sla.policy import ServiceLevels, SlaPolicy


@dataclass(frozen=True)
class TriggerRule:
    """What one trigger does: go to the tier's next tier, or to a fixed tier (only from some tiers)."""

    next: bool = False
    to: int | None = None
    from_tiers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Vendor:
    """An external partner reached over `incidents.vendor`, with its agreed answer times."""

    id: str
    name: str
    answer: timedelta
    update: timedelta | None = None


@dataclass(frozen=True)
class PagePolicy:
    """Who is paged, how often an unacknowledged page repeats, and the contact chain."""

    severities: frozenset[str] = frozenset({"critical", "high"})
    tiers: frozenset[int] = frozenset({3, 4})
    repeat: timedelta = timedelta(minutes=10)
    max_repeats: int = 3
    contacts: tuple[str, ...] = ("on_call", "lead", "team")
    messages: frozenset[str] = frozenset({"ticket_assigned", "escalation_page"})


@dataclass(frozen=True)
class EscalationPolicy:
    """Everything escalation decides by; teams, allowances, warnings and calendar are the shared service levels."""

    levels: ServiceLevels
    auto_close_business_days: int = 5
    next_tier: dict[int, int | None] = field(default_factory=lambda: {1: 2, 2: 3, 3: None, 4: None})
    new_number_tiers: frozenset[int] = frozenset({4})
    triggers: dict[str, TriggerRule] = field(default_factory=dict)
    pages: PagePolicy = field(default_factory=PagePolicy)
    third_party_components: dict[str, str] = field(default_factory=dict)
    default_vendor: str | None = None
    vendors: dict[str, Vendor] = field(default_factory=dict)

    @property
    def sla(self) -> SlaPolicy:
        """Return the shared SLA policy (allowances, calendar, warning fractions, hand-off)."""
        return self.levels.sla

    @property
    def calendar(self) -> BusinessCalendar:
        """Return the business calendar working time counts on."""
        return self.levels.sla.calendar

    @property
    def warning_fractions(self) -> tuple[float, ...]:
        """Return the shares of a budget at which a running clock warns."""
        return self.levels.sla.warning_fractions

    @property
    def handoff(self) -> timedelta:
        """Return the time a new team has to contact the reporter after an escalation."""
        return self.levels.sla.handoff.budget(self.calendar)

    def target_tier(self, trigger: str, tier: int) -> int | None:
        """Return the tier this trigger moves a ticket at `tier` to, or None when it does not move it."""
        rule = self.triggers.get(trigger)
        if rule is None:
            return None
        if rule.next:
            return self.next_tier.get(tier)
        if rule.to is None or rule.to == tier:
            return None
        if rule.from_tiers:
            return rule.to if tier in rule.from_tiers else None
        return rule.to if rule.to > tier else None

    def team_for(self, tier: int) -> str:
        """Return the team that takes tickets at a tier."""
        return self.levels.team_for(tier)

    def vendor_for(self, component: str | None) -> Vendor | None:
        """Return the vendor responsible for a component (or the default vendor), if any."""
        vendor_id = self.third_party_components.get((component or "").lower(), self.default_vendor)
        return self.vendors.get(vendor_id) if vendor_id else None

    def is_third_party(self, component: str | None) -> bool:
        """Return True if the component is listed as third-party or hardware."""
        return (component or "").lower() in self.third_party_components

    def pages_for(self, severity: str | None, tier: int | None) -> bool:
        """Return True if a ticket of this severity and tier pages on-call."""
        return severity in self.pages.severities or tier in self.pages.tiers

    def is_business_time(self, severity: str | None, target: str) -> bool:
        """Return True if this severity's response/resolution target counts working time only."""
        return self.levels.sla.is_business_time(severity, target)
