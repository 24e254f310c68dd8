"""Reads the escalation policy (YAML) and combines it with triage's teams, targets and calendar."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.escalation.domain.policy import EscalationPolicy, PagePolicy, TriggerRule, Vendor
from services.triage.rules_file import load_policy as load_triage_policy

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"
TRIGGERS = ("response_breached", "resolution_breached", "still_has_issues", "reclassified", "page_undeliverable",
            "production", "security", "third_party", "vendor_unresponsive")
Tier = Annotated[int, Field(ge=1, le=4)]


class PolicyFileError(ValueError):
    """The escalation policy file cannot be used; the message names the file and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TierModel(_Strict):
    next: Tier | None


class TriggerModel(_Strict):
    next: bool = False
    to: Tier | None = None
    from_: list[Tier] = Field(default=[], alias="from")

    @model_validator(mode="after")
    def _one_way(self) -> TriggerModel:
        if self.next == (self.to is not None):
            raise ValueError("a trigger says either `next: true` or `to: <tier>`")
        return self


class PagesModel(_Strict):
    severities: list[str] = ["critical", "high"]
    tiers: list[Tier] = [3, 4]
    repeat_minutes: float = Field(default=10, gt=0)
    max_repeats: int = Field(default=3, ge=0, le=100)
    contacts: list[str] = Field(default=["on_call", "lead", "team"], min_length=1)
    messages: list[str] = ["ticket_assigned", "escalation_page"]


class VendorModel(_Strict):
    name: str = Field(min_length=1, max_length=200)
    answer_hours: float = Field(gt=0)
    update_hours: float | None = Field(default=None, gt=0)


class ThirdPartyModel(_Strict):
    components: dict[str, str] = {}
    default_vendor: str | None = None


class PolicyFile(_Strict):
    version: int = Field(ge=1, le=1)
    warning_fractions: list[float] = Field(default=[0.75, 0.9])
    handoff_hours: float = Field(default=2, gt=0)
    auto_close_business_days: int = Field(default=5, ge=1, le=365)
    tiers: dict[Tier, TierModel]
    new_number_tiers: list[Tier] = []
    triggers: dict[str, TriggerModel]
    pages: PagesModel = PagesModel()
    third_party: ThirdPartyModel = ThirdPartyModel()
    vendors: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")], VendorModel] = {}

    @model_validator(mode="after")
    def _consistent(self) -> PolicyFile:
        if any(not 0 < f < 1 for f in self.warning_fractions):
            raise ValueError("warning_fractions must lie strictly between 0 and 1")
        unknown = set(self.triggers) - set(TRIGGERS)
        if unknown:
            raise ValueError(f"unknown triggers {sorted(unknown)}; known: {', '.join(TRIGGERS)}")
        named = set(self.third_party.components.values()) | ({self.third_party.default_vendor} - {None})
        missing = named - set(self.vendors)
        if missing:
            raise ValueError(f"vendors {sorted(missing)} are named under third_party but not defined under vendors")
        return self


def load_policy(path: Path | None = None, triage_rules_file: Path | None = None) -> EscalationPolicy:
    """Return the escalation policy in the file (packaged default if None) with triage's teams, targets, calendar.

    Raises PolicyFileError (or triage's RulesFileError) naming what is wrong.
    """
    path = path or DEFAULT_POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        model = PolicyFile.model_validate(data)
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read the escalation policy: {exc}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise PolicyFileError(f"{path}: invalid escalation policy: {exc}") from exc
    triage = load_triage_policy(triage_rules_file)
    return EscalationPolicy(
        teams=dict(triage.rulebook.teams),
        targets={severity.value: targets for severity, targets in triage.sla.targets.items()},
        calendar=triage.sla.calendar,
        warning_fractions=tuple(sorted(model.warning_fractions)),
        handoff=timedelta(hours=model.handoff_hours),
        auto_close_business_days=model.auto_close_business_days,
        next_tier={tier: t.next for tier, t in model.tiers.items()},
        new_number_tiers=frozenset(model.new_number_tiers),
        triggers={name: TriggerRule(next=t.next, to=t.to, from_tiers=frozenset(t.from_))
                  for name, t in model.triggers.items()},
        pages=PagePolicy(
            severities=frozenset(model.pages.severities), tiers=frozenset(model.pages.tiers),
            repeat=timedelta(minutes=model.pages.repeat_minutes), max_repeats=model.pages.max_repeats,
            contacts=tuple(model.pages.contacts), messages=frozenset(model.pages.messages),
        ),
        third_party_components={k.lower(): v for k, v in model.third_party.components.items()},
        default_vendor=model.third_party.default_vendor,
        vendors={vid: Vendor(vid, v.name, timedelta(hours=v.answer_hours),
                             timedelta(hours=v.update_hours) if v.update_hours else None)
                 for vid, v in model.vendors.items()},
    )
