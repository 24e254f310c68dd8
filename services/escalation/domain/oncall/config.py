"""A whole on-call configuration: people, schedules, team policies per tier and overrides, checked together (pure).

Overrides are kept apart from their schedules, each with an id, so they can be added and removed one by
one (through the API) on schedules defined anywhere (a YAML file or the API). `effective(schedule_id)` is
the schedule with its overrides applied, in the order they were listed.

Two parts combine into one configuration: what a file defines and what the database stores. The file
wins: an item (person, schedule, policy, override) the file defines replaces a stored one with the same
key, and `sources` tells which part each item came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.escalation.domain.oncall.errors import OnCallConfigError, require_text
from services.escalation.domain.oncall.people import Person
from services.escalation.domain.oncall.policy import CHANNEL, OnCallPolicy
from services.escalation.domain.oncall.schedule import REPLACE, Override, Schedule, with_overrides
from services.escalation.domain.oncall.validate import validate_policy, validate_schedule

FILE, STORED = "file", "api"
CHANNEL_ROLES = ("team", "lead", "on_call")
"""What a channel target may name: a role of the team in the notifier's routing (`team` is its chat channel)."""


@dataclass(frozen=True)
class OverrideEntry:
    """An override of one schedule, with the id it is added and removed by."""

    id: str
    schedule: str
    override: Override

    def __post_init__(self) -> None:
        require_text(self.id, "override.id")
        require_text(self.schedule, "override.schedule")
        if not isinstance(self.override, Override):
            raise OnCallConfigError("override", f"must be an Override, got {self.override!r}")


def policy_key(team: str, tier: int) -> str:
    """Return the key a team's policy for a tier is stored and replaced by."""
    return f"{team}/tier-{tier}"


@dataclass(frozen=True)
class OnCallParts:
    """One source's items (a file's or the database's), not yet checked against each other."""

    people: tuple[Person, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    policies: tuple[OnCallPolicy, ...] = ()
    overrides: tuple[OverrideEntry, ...] = ()

    def keys(self) -> dict[str, set[str]]:
        """Return the keys of the items by kind: person ids, schedule ids, policy keys, override ids."""
        return {"people": {p.id for p in self.people}, "schedules": {s.id for s in self.schedules},
                "policies": {policy_key(p.team, p.tier) for p in self.policies},
                "overrides": {o.id for o in self.overrides}}


@dataclass(frozen=True)
class OnCallConfig:
    """Everyone and everything on call, checked: every id named exists, no two covers overlap for one person."""

    people: Mapping[str, Person] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    policies: Mapping[str, OnCallPolicy] = field(default_factory=dict)
    overrides: tuple[OverrideEntry, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    """`<kind>:<key>` (person:ada, schedule:primary, policy:ops/tier-2, override:swap-1) -> file or api."""

    def effective(self, schedule_id: str) -> Schedule:
        """Return the schedule with its overrides applied (KeyError if there is no such schedule)."""
        return with_overrides(self.schedules[schedule_id],
                              [entry.override for entry in self.overrides if entry.schedule == schedule_id])

    def effective_schedules(self) -> dict[str, Schedule]:
        """Return every schedule with its overrides applied, by id."""
        return {schedule_id: self.effective(schedule_id) for schedule_id in self.schedules}

    def policy_for(self, team: str | None, tier: int | None) -> OnCallPolicy | None:
        """Return the team's page chain for a tier, or None when the team has none (static contacts page)."""
        if team is None or tier is None:
            return None
        return self.policies.get(policy_key(team, tier))

    def team_schedules(self, team: str) -> list[Schedule]:
        """Return the team's schedules (overrides applied), by id."""
        return [self.effective(s.id) for s in sorted(self.schedules.values(), key=lambda s: s.id) if s.team == team]

    def teams(self) -> list[str]:
        """Return every team that has a schedule or a policy, sorted."""
        return sorted({s.team for s in self.schedules.values()} | {p.team for p in self.policies.values()})

    def source(self, kind: str, key: str) -> str | None:
        """Return where an item came from (file or api), or None if there is no such item."""
        return self.sources.get(f"{kind}:{key}")


def _by_key(items: Iterable, key, kind: str, field_name: str) -> dict:
    found: dict = {}
    for item in items:
        k = key(item)
        if k in found:
            raise OnCallConfigError(field_name, f"{kind} {k!r} is defined twice")
        found[k] = item
    return found


def combine(file: OnCallParts, stored: OnCallParts) -> OnCallConfig:
    """Return the checked configuration of both parts, the file's items replacing stored ones with the same key.

    Raises OnCallConfigError naming the item and field (e.g. `schedules.primary.layers[0].rotation.participants`).
    """
    sources: dict[str, str] = {}
    merged: dict[str, dict] = {}
    kinds = (("people", "person", lambda p: p.id), ("schedules", "schedule", lambda s: s.id),
             ("policies", "policy", lambda p: policy_key(p.team, p.tier)), ("overrides", "override", lambda o: o.id))
    for attribute, kind, key in kinds:
        stored_items = _by_key(getattr(stored, attribute), key, kind, attribute)
        file_items = _by_key(getattr(file, attribute), key, kind, attribute)
        merged[attribute] = {**stored_items, **file_items}
        sources.update({f"{kind}:{k}": STORED for k in stored_items})
        sources.update({f"{kind}:{k}": FILE for k in file_items})
    config = OnCallConfig(merged["people"], merged["schedules"], merged["policies"],
                          tuple(merged["overrides"].values()), sources)
    check(config)
    return config


def check(config: OnCallConfig) -> OnCallConfig:
    """Return the configuration if every reference resolves and overrides do not contradict each other."""
    people = dict(config.people)
    for schedule_id, schedule in config.schedules.items():
        try:
            validate_schedule(schedule, people)
        except OnCallConfigError as exc:
            raise OnCallConfigError(f"schedules.{schedule_id}.{exc.field}", exc.problem) from None
    for entry in config.overrides:
        where = f"overrides.{entry.id}"
        if entry.schedule not in config.schedules:
            raise OnCallConfigError(f"{where}.schedule", f"no schedule {entry.schedule!r}")
        for name in ("person", "instead_of"):
            person = getattr(entry.override, name)
            if person is not None and person not in people:
                raise OnCallConfigError(f"{where}.{name}", f"no person {person!r}")
    _no_overlapping_covers(config.overrides)
    for key, policy in config.policies.items():
        try:
            validate_policy(policy, config.schedules, people)
        except OnCallConfigError as exc:
            raise OnCallConfigError(f"policies.{key}.{exc.field}", exc.problem) from None
        for n, step in enumerate(policy.steps):
            for m, target in enumerate(step.targets):
                if target.kind == CHANNEL and target.ref not in CHANNEL_ROLES:
                    raise OnCallConfigError(f"policies.{key}.steps[{n}].targets[{m}].ref",
                                            f"a channel target names a team role ({', '.join(CHANNEL_ROLES)}), "
                                            f"not {target.ref!r}")
    return config


def _no_overlapping_covers(entries: tuple[OverrideEntry, ...]) -> None:
    """Refuse two replace overrides covering the same person on one schedule at overlapping times (who covers?)."""
    covers: dict[tuple[str, str], list[OverrideEntry]] = {}
    for entry in entries:
        if entry.override.kind == REPLACE:
            covers.setdefault((entry.schedule, entry.override.instead_of or ""), []).append(entry)
    for group in covers.values():
        ordered = sorted(group, key=lambda e: e.override.start)
        for earlier, later in zip(ordered, ordered[1:]):
            if later.override.start < earlier.override.end:
                raise OnCallConfigError(f"overrides.{later.id}.start",
                                        f"overlaps override {earlier.id!r}, which already covers "
                                        f"{later.override.instead_of!r} on {later.schedule!r} until "
                                        f"{earlier.override.end.isoformat()}")
