"""The on-call configuration as data: the shapes of the YAML file, the API bodies and the stored document.

One shape everywhere, so a file, a JSON body and the database document mean the same thing:

    version: 1
    people:    [{id, name, email, time_zone, slack?, webhook?}]
    schedules: [{id, team, time_zone, layers: [{rotation: {id, participants, shift: {hours|days|weeks: n},
                 start, handoff: "09:00", time_zone, changes: [{effective_at, participants}]},
                 restriction?: {time_zone, windows: [{days: [mon, ...], start: "09:00", end: "17:00"}
                                                     | {start: "fri 18:00", end: "mon 08:00"}]}}]}]
    policies:  [{team, tier, lead, repeats, steps: [{delay_minutes, targets: [{schedule|person|channel: id}]}]}]
    overrides: [{id, schedule, kind: replace|add|remove, person, instead_of?, start, end}]

These models check types and shapes; what makes a configuration work (zones that exist, non-empty
rotations, delays above zero, references that resolve) is checked by the domain when `to_parts` builds it.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
Id = Annotated[str, Field(pattern=ID_PATTERN, description="letters, digits, `_` and `-`; at most 64")]
Team = Annotated[str, Field(pattern=TEAM_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Zone = Annotated[str, Field(min_length=1, max_length=64, description="an IANA time zone, e.g. Europe/Berlin")]
Endpoint = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$",
                                description="an endpoint name of the notifier's routing file")]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
WEEK_CLOCK = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) +([01]?\d|2[0-3]):([0-5]\d)$")


class Shape(BaseModel):
    """Unknown keys are refused (a typo is an error, not a silently ignored line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_time(value: Any) -> time:
    """Return a local time of day written "HH:MM"; a number (YAML reads 9:00 as 540) is refused with the fix."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write times of day in quotes, e.g. \"09:00\" (unquoted, YAML reads 9:00 as a number)")
    match = CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"must be a time of day \"HH:MM\", got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


class PersonBody(Shape):
    """Who can be paged and how (`slack`/`webhook` name endpoints of the notifier's routing file)."""

    name: Text
    email: str = Field(min_length=3, max_length=300)
    time_zone: Zone = "UTC"
    slack: Endpoint | None = None
    webhook: Endpoint | None = None


class PersonModel(PersonBody):
    id: Id


class ShiftModel(Shape):
    """A shift length: exactly one of `hours` (a fixed duration), `days` or `weeks` (local hand-off time)."""

    hours: int | None = Field(default=None, le=24 * 366)
    days: int | None = Field(default=None, le=366)
    weeks: int | None = Field(default=None, le=52)

    @model_validator(mode="after")
    def _one(self) -> ShiftModel:
        if sum(v is not None for v in (self.hours, self.days, self.weeks)) != 1:
            raise ValueError("give exactly one of hours, days or weeks")
        return self


class MembershipModel(Shape):
    """From `effective_at` on, these participants take turns (earlier shifts stay as they were)."""

    effective_at: AwareDatetime
    participants: list[Id] = Field(max_length=200)


class RotationModel(Shape):
    id: Id
    participants: list[Id] = Field(max_length=200)
    shift: ShiftModel
    start: AwareDatetime
    handoff: str | int = "09:00"
    time_zone: Zone = "UTC"
    changes: list[MembershipModel] = Field(default=[], max_length=100)

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: Any) -> str:
        clock_time(value)
        return value


class WindowModel(Shape):
    """`days` with `start`/`end` as "HH:MM" (a window each of those days; an end before the start runs
    overnight), or, without `days`, `start`/`end` as "fri 18:00" (one weekly window)."""

    days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    start: str | int
    end: str | int

    @model_validator(mode="after")
    def _form(self) -> WindowModel:
        for name in ("start", "end"):
            value = getattr(self, name)
            if self.days is not None:
                clock_time(value)
            elif not isinstance(value, str) or not WEEK_CLOCK.match(value.strip().lower()):
                raise ValueError(f"{name}: without `days`, write a weekday and a time, e.g. \"fri 18:00\"; "
                                 f"got {value!r}")
        return self


class RestrictionModel(Shape):
    time_zone: Zone
    windows: list[WindowModel] = Field(max_length=50)


class LayerModel(Shape):
    rotation: RotationModel
    restriction: RestrictionModel | None = None


class ScheduleBody(Shape):
    """A team's layers, bottom to top: a later layer wins wherever it has someone on call."""

    team: Team
    time_zone: Zone = "UTC"
    layers: list[LayerModel] = Field(max_length=20)


class ScheduleModel(ScheduleBody):
    id: Id


class TargetModel(Shape):
    """Exactly one of: `schedule` (whoever it has on call), `person`, `channel` (a team role: team, lead, on_call)."""

    schedule: Id | None = None
    person: Id | None = None
    channel: str | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _one(self) -> TargetModel:
        if sum(v is not None for v in (self.schedule, self.person, self.channel)) != 1:
            raise ValueError("give exactly one of schedule, person or channel")
        return self

    def kind_ref(self) -> tuple[str, str]:
        """Return (kind, ref) of the target."""
        for kind in ("schedule", "person", "channel"):
            if getattr(self, kind) is not None:
                return kind, getattr(self, kind)
        raise AssertionError("validated")


class StepModel(Shape):
    delay_minutes: int = Field(le=7 * 24 * 60)
    targets: list[TargetModel] = Field(max_length=20)


class PolicyBody(Shape):
    """A team's page chain at one tier: steps, run 1 + `repeats` times, then the lead (a person id)."""

    lead: Id
    repeats: int = Field(default=0, le=20)
    steps: list[StepModel] = Field(max_length=20)


class PolicyModel(PolicyBody):
    team: Team
    tier: int = Field(ge=1, le=4)


class OverrideBody(Shape):
    """`replace`: `person` covers for `instead_of`; `add`: `person` is on call too; `remove`: `person` is off."""

    kind: Literal["replace", "add", "remove"]
    person: Id
    instead_of: Id | None = None
    start: AwareDatetime
    end: AwareDatetime


class OverrideModel(OverrideBody):
    id: Id
    schedule: Id


class OnCallDocument(Shape):
    """A whole configuration: the YAML file, the body of `PUT /v1/oncall/config`, and what the database stores."""

    version: Literal[1] = 1
    people: list[PersonModel] = Field(default=[], max_length=5000)
    schedules: list[ScheduleModel] = Field(default=[], max_length=500)
    policies: list[PolicyModel] = Field(default=[], max_length=500)
    overrides: list[OverrideModel] = Field(default=[], max_length=5000)


def window_parts(window: WindowModel) -> list[tuple[int, time, int, time]]:
    """Return (start day, start, end day, end) of the weekly windows a window entry stands for (days 0 = Monday)."""
    if window.days is not None:
        start, end = clock_time(window.start), clock_time(window.end)
        overnight = end <= start
        return [(DAYS.index(d), start, (DAYS.index(d) + 1) % 7 if overnight else DAYS.index(d), end)
                for d in window.days]
    (day_a, at_a), (day_b, at_b) = (str(v).strip().lower().split() for v in (window.start, window.end))
    return [(DAYS.index(day_a), clock_time(at_a), DAYS.index(day_b), clock_time(at_b))]
