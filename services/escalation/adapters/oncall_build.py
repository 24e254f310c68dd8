"""Turns on-call documents (file, API body, stored) into the domain, naming where each problem is.

Every problem becomes a LocatedError whose `loc` is the path in the document (`schedules`, 0, `layers`, 1,
`rotation`, `participants`), so the YAML loader turns it into `file:line` and the API into a field name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from services.escalation.adapters.oncall_models import (
    OnCallDocument,
    PolicyModel,
    ScheduleModel,
    clock_time,
    window_parts,
)
from services.escalation.domain.oncall import (
    Layer,
    Membership,
    OnCallConfigError,
    OnCallPolicy,
    Override,
    Person,
    PolicyStep,
    Restriction,
    Rotation,
    Schedule,
    ShiftLength,
    Target,
    WeeklyWindow,
)
from services.escalation.domain.oncall.config import OnCallParts, OverrideEntry, policy_key

T = TypeVar("T")
Loc = tuple[str | int, ...]


class LocatedError(OnCallConfigError):
    """A configuration problem at a path of the document."""

    def __init__(self, loc: Loc, problem: str) -> None:
        super().__init__(dotted(loc), problem)
        self.loc = loc


def dotted(loc: Loc) -> str:
    """Return a path as people write it: schedules[0].layers[1].rotation.participants."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def parse_field(field: str) -> Loc:
    """Return the parts of a dotted field with [n] indexes: 'layers[0].rotation.x' -> ('layers', 0, 'rotation', 'x')."""
    parts: list[str | int] = []
    for piece in field.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        for index in filter(None, rest.replace("]", "").split("[")) if rest else ():
            parts.append(int(index) if index.isdigit() else index)
    return tuple(parts)


def _at(loc: Loc, build: Callable[[], T], *, tail: bool = True) -> T:
    """Return build(); a domain error is re-raised at loc (plus the field it names inside the object, if tail)."""
    try:
        return build()
    except LocatedError:
        raise
    except OnCallConfigError as exc:
        raise LocatedError(loc + (parse_field(exc.field)[1:] if tail else ()), exc.problem) from None


def person(model: Any, loc: Loc) -> Person:
    """Return the domain person of a person model."""
    return _at(loc, lambda: Person(model.id, model.name, model.email, model.time_zone, model.slack, model.webhook))


def schedule(model: ScheduleModel, loc: Loc) -> Schedule:
    """Return the domain schedule of a schedule model (its layers, rotations and restrictions)."""
    layers = []
    for n, layer in enumerate(model.layers):
        where = (*loc, "layers", n)
        rotation = layer.rotation
        at = (*where, "rotation")
        length = _at((*at, "shift"), lambda r=rotation: ShiftLength(
            *next((kind, count) for kind, count in (("hours", r.shift.hours), ("days", r.shift.days),
                                                    ("weeks", r.shift.weeks)) if count is not None)), tail=False)
        changes = tuple(_at((*at, "changes", i), lambda c=c: Membership(c.effective_at, tuple(c.participants)))
                        for i, c in enumerate(rotation.changes))
        built = _at(at, lambda r=rotation: Rotation(r.id, tuple(r.participants), length, r.start,
                                                   clock_time(r.handoff), r.time_zone, changes))
        restriction = None
        if layer.restriction is not None:
            windows = tuple(_at((*where, "restriction", "windows", i), lambda p=p: WeeklyWindow(*p), tail=False)
                            for i, w in enumerate(layer.restriction.windows) for p in window_parts(w))
            restriction = _at((*where, "restriction"),
                              lambda res=layer.restriction: Restriction(res.time_zone, windows))
        layers.append(_at(where, lambda b=built, r=restriction: Layer(b, r)))
    return _at(loc, lambda: Schedule(model.id, model.team, model.time_zone, tuple(layers)))


def policy(model: PolicyModel, loc: Loc) -> OnCallPolicy:
    """Return the domain policy of a policy model, its id `<team>/tier-<n>`."""
    steps = []
    for n, step in enumerate(model.steps):
        targets = tuple(_at((*loc, "steps", n, "targets", m), lambda t=t: Target(*t.kind_ref()))
                        for m, t in enumerate(step.targets))
        steps.append(_at((*loc, "steps", n), lambda s=step, ts=targets: PolicyStep(s.delay_minutes, ts)))
    return _at(loc, lambda: OnCallPolicy(policy_key(model.team, model.tier), model.team, model.tier, tuple(steps),
                                         model.lead, model.repeats))


def override(model: Any, loc: Loc) -> OverrideEntry:
    """Return the domain override entry of an override model."""
    built = _at(loc, lambda: Override(model.kind, model.person, model.start, model.end, model.instead_of))
    return _at(loc, lambda: OverrideEntry(model.id, model.schedule, built))


def to_parts(document: OnCallDocument) -> OnCallParts:
    """Return the domain items of a document; raise LocatedError at the first one that cannot work."""
    return OnCallParts(
        people=tuple(person(p, ("people", i)) for i, p in enumerate(document.people)),
        schedules=tuple(schedule(s, ("schedules", i)) for i, s in enumerate(document.schedules)),
        policies=tuple(policy(p, ("policies", i)) for i, p in enumerate(document.policies)),
        overrides=tuple(override(o, ("overrides", i)) for i, o in enumerate(document.overrides)),
    )


def item_index(document: OnCallDocument, kind: str, key: str) -> int | None:
    """Return the position of an item in the document's list of that kind, found by its key, or None."""
    keyed: dict[str, Callable[[Any], str]] = {"people": lambda p: p.id, "schedules": lambda s: s.id,
                                              "policies": lambda p: policy_key(p.team, p.tier),
                                              "overrides": lambda o: o.id}
    if kind not in keyed:
        return None
    return next((i for i, item in enumerate(getattr(document, kind)) if keyed[kind](item) == key), None)


def locate(document: OnCallDocument, field: str) -> Loc | None:
    """Return the document path of a combined-configuration field (`schedules.<id>.layers[0]...`), or None."""
    kind, _, rest = field.partition(".")
    key, _, inner = rest.partition(".")
    index = item_index(document, kind, key)
    if index is None:
        return None
    return (kind, index, *(parse_field(inner) if inner else ()))
