"""Schedules: a team's layers of rotations plus overrides, as data (pure).

Layer precedence (as in PagerDuty): layers are listed bottom to top and a later layer wins over an
earlier one wherever both have someone on call; an earlier layer shows through only where every later
layer is empty (before its start, or outside its restriction). Layers give at most one person at a time.

Overrides win over layers. At each instant the active overrides apply in a fixed order: every
`replace` (in list order: wherever `instead_of` is on call, `person` is instead), then every `remove`
(`person` is not on call), then every `add` (`person` is on call too). So an explicit add always
puts someone on call, and a remove takes someone off whether a layer or a replacement put them there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.escalation.domain.oncall.errors import OnCallConfigError, require_text, utc
from services.escalation.domain.oncall.restriction import Restriction
from services.escalation.domain.oncall.rotation import Rotation
from services.escalation.domain.oncall.tzmath import zone

REPLACE, REMOVE, ADD = "replace", "remove", "add"
OVERRIDE_ORDER = (REPLACE, REMOVE, ADD)


@dataclass(frozen=True)
class Layer:
    """A rotation, on call only inside its restriction's windows when it has one."""

    rotation: Rotation
    restriction: Restriction | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.rotation, Rotation):
            raise OnCallConfigError("layer.rotation", f"must be a Rotation, got {self.rotation!r}")
        if self.restriction is not None and not isinstance(self.restriction, Restriction):
            raise OnCallConfigError("layer.restriction", f"must be a Restriction, got {self.restriction!r}")


@dataclass(frozen=True)
class Override:
    """From `start` to `end`: `person` covers for `instead_of` (replace), is on call too (add), or is off (remove)."""

    kind: str
    person: str
    start: datetime
    end: datetime
    instead_of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OVERRIDE_ORDER:
            raise OnCallConfigError("override.kind", f"must be replace, add or remove; got {self.kind!r}")
        require_text(self.person, "override.person")
        object.__setattr__(self, "start", utc(self.start, "override.start"))
        object.__setattr__(self, "end", utc(self.end, "override.end"))
        if self.end <= self.start:
            raise OnCallConfigError("override.end", f"{self.end.isoformat()} is not after the start "
                                    f"{self.start.isoformat()}")
        if self.kind == REPLACE:
            require_text(self.instead_of, "override.instead_of")
            if self.instead_of == self.person:
                raise OnCallConfigError("override.instead_of", f"{self.person!r} cannot cover for themselves")
        elif self.instead_of is not None:
            raise OnCallConfigError("override.instead_of", f"only a replace override names whom it covers, "
                                    f"not {self.kind}")

    @classmethod
    def replace(cls, absent: str, cover: str, start: datetime, end: datetime) -> Override:
        """Return an override where `cover` is on call wherever `absent` would be."""
        return cls(REPLACE, cover, start, end, instead_of=absent)

    @classmethod
    def add(cls, person: str, start: datetime, end: datetime) -> Override:
        """Return an override that puts `person` on call in addition to whoever is."""
        return cls(ADD, person, start, end)

    @classmethod
    def remove(cls, person: str, start: datetime, end: datetime) -> Override:
        """Return an override that takes `person` off call."""
        return cls(REMOVE, person, start, end)


@dataclass(frozen=True)
class Schedule:
    """A team's on-call schedule: layers bottom to top (later wins) and overrides (win over layers)."""

    id: str
    team: str
    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = field(default=())

    def __post_init__(self) -> None:
        require_text(self.id, "schedule.id")
        require_text(self.team, "schedule.team")
        zone(self.time_zone, "schedule.time_zone")
        layers, overrides = tuple(self.layers), tuple(self.overrides)
        if not layers:
            raise OnCallConfigError("schedule.layers", "must hold at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise OnCallConfigError("schedule.layers", f"must hold Layers, got {layer!r}")
        ids = [layer.rotation.id for layer in layers]
        if len(set(ids)) != len(ids):
            raise OnCallConfigError("schedule.layers", f"rotation ids overlap: {ids}")
        for override in overrides:
            if not isinstance(override, Override):
                raise OnCallConfigError("schedule.overrides", f"must hold Overrides, got {override!r}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "overrides", overrides)


def with_overrides(schedule: Schedule, overrides: Iterable[Override]) -> Schedule:
    """Return the schedule with more overrides (applied after its own within each kind)."""
    return Schedule(schedule.id, schedule.team, schedule.time_zone, schedule.layers,
                    (*schedule.overrides, *overrides))


def apply_overrides(layered: list[str], active: Iterable[Override]) -> list[str]:
    """Return who is on call given the layers' people and the overrides active at that moment (see module doc)."""
    by_kind = sorted(active, key=lambda o: OVERRIDE_ORDER.index(o.kind))  # stable: list order within a kind
    people = list(layered)
    for override in by_kind:
        if override.kind == REPLACE:
            people = [override.person if p == override.instead_of else p for p in people]
        elif override.kind == REMOVE:
            people = [p for p in people if p != override.person]
        else:
            people.append(override.person)
    return list(dict.fromkeys(people))
