"""Reads the escalation policy (YAML) and combines it with the shared service levels."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from services.escalation.domain.policy import (
    EscalationPolicy,
    PagePolicy,
    TriggerRule,
    Vendor,
)
from shared.config_files import LoadedFile, load_config
from shared.sla.config import Strict
from shared.sla.policy import ServiceLevels

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"
TRIGGERS = ("response_breached", "resolution_breached", "still_has_issues", "reclassified", "page_undeliverable",
            "production", "security", "third_party", "vendor_unresponsive")
Tier = Annotated[int, Field(ge=1, le=4)]


class TierModel(Strict):
    next: Tier | None


class TriggerModel(Strict):
    next: bool = False
    to: Tier | None = None
    from_: list[Tier] = Field(default=[], alias="from")

    @model_validator(mode="after")
    def _one_way(self) -> TriggerModel:
        if self.next == (self.to is not None):
            raise ValueError("a trigger says either `next: true` or `to: <tier>`")
        return self


class PagesModel(Strict):
    severities: list[str] = ["critical", "high"]
    tiers: list[Tier] = [3, 4]
    repeat_minutes: float = Field(default=10, gt=0)
    max_repeats: int = Field(default=3, ge=0, le=100)
    contacts: list[str] = Field(default=["on_call", "lead", "team"], min_length=1)
    messages: list[str] = ["ticket_assigned", "escalation_page"]


class VendorModel(Strict):
    name: str = Field(min_length=1, max_length=200)
    answer_hours: float = Field(gt=0)
    update_hours: float | None = Field(default=None, gt=0)


class ThirdPartyModel(Strict):
    components: dict[str, str] = {}
    default_vendor: str | None = None


class PolicyFile(Strict):
    """The whole escalation policy file."""

    version: int = Field(ge=1, le=1)
    auto_close_business_days: int = Field(default=5, ge=1, le=365)
    tiers: dict[Tier, TierModel]
    new_number_tiers: list[Tier] = []
    triggers: dict[str, TriggerModel]
    pages: PagesModel = PagesModel()
    third_party: ThirdPartyModel = ThirdPartyModel()
    vendors: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")], VendorModel] = {}

    @model_validator(mode="after")
    def _consistent(self) -> PolicyFile:
        unknown = set(self.triggers) - set(TRIGGERS)
        if unknown:
            raise ValueError(f"unknown triggers {sorted(unknown)}; known: {', '.join(TRIGGERS)}")
        named = set(self.third_party.components.values()) | ({self.third_party.default_vendor} - {None})
        missing = named - set(self.vendors)
        if missing:
            raise ValueError(f"vendors {sorted(missing)} are named under third_party but not defined under vendors")
        return self

    def build(self, levels: ServiceLevels) -> EscalationPolicy:
        """Return the escalation policy this file describes, over the shared service levels."""
        return EscalationPolicy(
            levels=levels,
            auto_close_business_days=self.auto_close_business_days,
            next_tier={tier: model.next for tier, model in self.tiers.items()},
            new_number_tiers=frozenset(self.new_number_tiers),
            triggers={name: TriggerRule(next=rule.next, to=rule.to, from_tiers=frozenset(rule.from_))
                      for name, rule in self.triggers.items()},
            pages=PagePolicy(
                severities=frozenset(self.pages.severities), tiers=frozenset(self.pages.tiers),
                repeat=timedelta(minutes=self.pages.repeat_minutes), max_repeats=self.pages.max_repeats,
                contacts=tuple(self.pages.contacts), messages=frozenset(self.pages.messages),
            ),
            third_party_components={k.lower(): v for k, v in self.third_party.components.items()},
            default_vendor=self.third_party.default_vendor,
            vendors={vid: Vendor(vid, v.name, timedelta(hours=v.answer_hours),
                                 timedelta(hours=v.update_hours) if v.update_hours else None)
                     for vid, v in self.vendors.items()},
        )


def load_policy(levels: ServiceLevels, path: Path | None = None, *,
                loaded: list[LoadedFile] | None = None) -> EscalationPolicy:
    """Return the escalation policy in the file (packaged default if None); raises ConfigFileError.

    The text read is appended to `loaded` when given.
    """
    return load_config(path or DEFAULT_POLICY_FILE, PolicyFile, what="escalation policy", loaded=loaded).build(levels)
