"""On-call escalation policies per team and tier, and how far a page chain has got by `now` (pure).

A chain starting at t0 fires step 0 at t0; each step waits its `delay_minutes` for an acknowledgement
before the next step fires. After the last step the whole list runs again, `repeats` more times; when
the last step of the last round has waited its delay, the team lead is notified and the chain ends.
Every firing has a stable key, `step.<repeat>.<index>` or `lead`, so a timer that records the keys it
fired (in the same write as its effects) fires each exactly once, however often it looks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.escalation.domain.oncall.errors import OnCallConfigError, require_int, require_text, utc
from services.escalation.domain.oncall.queries import on_call_at
from services.escalation.domain.oncall.schedule import Schedule

SCHEDULE, PERSON, CHANNEL = "schedule", "person", "channel"
LEAD = "lead"
WAITING, PAGING, EXHAUSTED, ACKNOWLEDGED = "waiting", "paging", "exhausted", "acknowledged"


@dataclass(frozen=True)
class Target:
    """Whom a step pages: whoever a schedule has on call, one person, or a team channel by name."""

    kind: str
    ref: str

    def __post_init__(self) -> None:
        if self.kind not in (SCHEDULE, PERSON, CHANNEL):
            raise OnCallConfigError("target.kind", f"must be schedule, person or channel; got {self.kind!r}")
        require_text(self.ref, "target.ref")

    @classmethod
    def schedule(cls, schedule_id: str) -> Target:
        """Return the target 'whoever the schedule has on call'."""
        return cls(SCHEDULE, schedule_id)

    @classmethod
    def person(cls, person_id: str) -> Target:
        """Return the target 'this person'."""
        return cls(PERSON, person_id)

    @classmethod
    def channel(cls, name: str) -> Target:
        """Return the target 'this team channel'."""
        return cls(CHANNEL, name)


@dataclass(frozen=True)
class PolicyStep:
    """Page `targets`, then wait `delay_minutes` (> 0) for an acknowledgement before the next step."""

    delay_minutes: int
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        require_int(self.delay_minutes, "step.delay_minutes", 1)
        targets = tuple(self.targets) if hasattr(self.targets, "__iter__") else ()
        if not targets:
            raise OnCallConfigError("step.targets", "must name at least one target")
        for target in targets:
            if not isinstance(target, Target):
                raise OnCallConfigError("step.targets", f"must hold Targets, got {target!r}")
        object.__setattr__(self, "targets", targets)


@dataclass(frozen=True)
class OnCallPolicy:
    """A team's page chain at a tier: steps, run 1 + `repeats` times, then the lead (a person id)."""

    id: str
    team: str
    tier: int
    steps: tuple[PolicyStep, ...]
    lead: str
    repeats: int = 0

    def __post_init__(self) -> None:
        require_text(self.id, "policy.id")
        require_text(self.team, "policy.team")
        require_int(self.tier, "policy.tier", 1)
        steps = tuple(self.steps) if hasattr(self.steps, "__iter__") else ()
        if not steps or not all(isinstance(step, PolicyStep) for step in steps):
            raise OnCallConfigError("policy.steps", "must hold at least one PolicyStep")
        object.__setattr__(self, "steps", steps)
        require_text(self.lead, "policy.lead")
        require_int(self.repeats, "policy.repeats", 0)

    @property
    def round_length(self) -> timedelta:
        """Return how long one pass over all steps takes."""
        return timedelta(minutes=sum(step.delay_minutes for step in self.steps))


@dataclass(frozen=True)
class Firing:
    """One moment the chain pages: its stable key, when it falls due, and whom it pages."""

    key: str
    at: datetime
    repeat: int | None
    index: int | None
    targets: tuple[Target, ...]


def firings(policy: OnCallPolicy, started_at: datetime) -> list[Firing]:
    """Return every firing of a chain started at `started_at`, in time order, ending with the lead."""
    at = utc(started_at, "started_at")
    found: list[Firing] = []
    for repeat in range(policy.repeats + 1):
        for index, step in enumerate(policy.steps):
            found.append(Firing(f"step.{repeat}.{index}", at, repeat, index, step.targets))
            at += timedelta(minutes=step.delay_minutes)
    found.append(Firing(LEAD, at, None, None, (Target.person(policy.lead),)))
    return found


@dataclass(frozen=True)
class Progress:
    """Where a chain stands at `now`: its state, the latest firing due, the firings owed, the next due time."""

    state: str
    current: Firing | None
    due: tuple[Firing, ...]
    next_due_at: datetime | None


def progress(policy: OnCallPolicy, started_at: datetime, now: datetime, acknowledged: bool = False,
             fired: Collection[str] = ()) -> Progress:
    """Return the chain's state at `now`; `due` holds the firings due by now whose keys are not in `fired`.

    An acknowledged chain owes nothing more and has no next due time.
    """
    now = utc(now, "now")
    every = firings(policy, started_at)
    reached = [f for f in every if f.at <= now]
    current = reached[-1] if reached else None
    if acknowledged:
        return Progress(ACKNOWLEDGED, current, (), None)
    upcoming = [f for f in every if f.at > now]
    state = WAITING if current is None else EXHAUSTED if current.key == LEAD else PAGING
    due = tuple(f for f in reached if f.key not in fired)
    return Progress(state, current, due, upcoming[0].at if upcoming else None)


def resolve(targets: tuple[Target, ...], at: datetime, schedules: Mapping[str, Schedule]) -> list[Target]:
    """Return the targets with each schedule replaced by the people it has on call at `at` (deduplicated, in order)."""
    found: list[Target] = []
    for target in targets:
        if target.kind != SCHEDULE:
            found.append(target)
            continue
        if target.ref not in schedules:
            raise OnCallConfigError("target.ref", f"no schedule {target.ref!r}")
        found += [Target.person(person) for person in on_call_at(schedules[target.ref], at)]
    return list(dict.fromkeys(found))
