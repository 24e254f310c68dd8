"""The service levels file: teams per tier, SLA allowances, warnings, hand-off and the business calendar.

Triage, escalation and intake all read this one file (SERVICE_LEVELS_FILE, default the packaged
`service_levels.yaml`), so they agree on which team takes which tier, when a target is due, and
what counts as working time.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.config_files import load_config
from shared.contracts import Severity
from shared.sla.calendar import BusinessCalendar
from shared.sla.policy import Allowance, ServiceLevels, SlaPolicy, TargetAllowances

DEFAULT_SERVICE_LEVELS_FILE = Path(__file__).with_name("service_levels.yaml")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _wall_clock(value: Any) -> Any:
    """Refuse YAML's reading of an unquoted 09:00 as a number (base 60)."""
    if isinstance(value, int):
        raise ValueError("write times in quotes, e.g. '09:00' (unquoted, YAML reads them as numbers)")
    return value


WallClock = Annotated[time, BeforeValidator(_wall_clock)]
Tier = Annotated[int, Field(ge=1, le=4)]
TeamName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]


class Strict(BaseModel):
    """A configuration section: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AllowanceModel(Strict):
    hours: float | None = Field(default=None, gt=0)
    business_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_unit(self) -> AllowanceModel:
        if (self.hours is None) == (self.business_days is None):
            raise ValueError("give exactly one of `hours` or `business_days`")
        return self

    def build(self) -> Allowance:
        return Allowance(hours=self.hours or 0, business_days=self.business_days or 0)


class SeverityAllowances(Strict):
    response: AllowanceModel
    resolution: AllowanceModel


class SlaSection(Strict):
    acknowledge: AllowanceModel
    targets: dict[Severity, SeverityAllowances]
    handoff: AllowanceModel = AllowanceModel(hours=2)
    warning_fractions: list[float] = Field(default=[0.75, 0.9], min_length=1)
    carry_over_spent_time: bool = True

    @field_validator("targets")
    @classmethod
    def _all_severities(cls, targets: dict[Severity, SeverityAllowances]) -> dict[Severity, SeverityAllowances]:
        missing = [s.value for s in Severity if s not in targets]
        if missing:
            raise ValueError(f"targets missing for {', '.join(missing)}")
        return targets

    @field_validator("warning_fractions")
    @classmethod
    def _fractions(cls, fractions: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in fractions):
            raise ValueError("warning fractions must lie strictly between 0 and 1")
        return sorted(set(fractions))


class WorkingHours(Strict):
    start: WallClock
    end: WallClock

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working hours must start before they end")
        return self


class HolidaysModel(Strict):
    country: str | None = None
    subdivision: str | None = None
    extra: list[date] = []

    @model_validator(mode="after")
    def _known(self) -> HolidaysModel:
        if self.country is not None:
            try:
                holiday_calendars.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"the holidays package does not know {exc}") from exc
        return self


class CalendarSection(Strict):
    timezone: str
    working_hours: WorkingHours
    weekend: list[str]
    holidays: HolidaysModel = HolidaysModel()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    @field_validator("weekend")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        unknown = [d for d in days if d.lower() not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        if len({d.lower() for d in days}) == 7:
            raise ValueError("the weekend cannot be the whole week")
        return days

    def build(self) -> BusinessCalendar:
        """Return the business calendar, with the public holidays of the configured country."""
        days: Any = frozenset(self.holidays.extra)
        if self.holidays.country is not None:
            days = holiday_calendars.country_holidays(self.holidays.country, subdiv=self.holidays.subdivision)
            days.update(self.holidays.extra)
        return BusinessCalendar(
            timezone=ZoneInfo(self.timezone),
            opens=self.working_hours.start,
            closes=self.working_hours.end,
            weekend=frozenset(WEEKDAYS.index(d.lower()) for d in self.weekend),
            holidays=days,
        )


class ServiceLevelsFile(Strict):
    """The whole service levels file."""

    version: int = Field(ge=1, le=1)
    tiers: dict[Tier, TeamName]
    sla: SlaSection
    calendar: CalendarSection

    @field_validator("tiers")
    @classmethod
    def _every_tier(cls, tiers: dict[int, str]) -> dict[int, str]:
        missing = sorted({1, 2, 3, 4} - set(tiers))
        if missing:
            raise ValueError(f"no team for Tier {', '.join(map(str, missing))}")
        return tiers

    def build(self) -> ServiceLevels:
        """Return the service levels this file describes."""
        sla = self.sla
        return ServiceLevels(
            teams=dict(self.tiers),
            sla=SlaPolicy(
                allowances={s: TargetAllowances(a.response.build(), a.resolution.build()) for s, a in sla.targets.items()},
                acknowledge=sla.acknowledge.build(),
                calendar=self.calendar.build(),
                warning_fractions=tuple(sla.warning_fractions),
                handoff=sla.handoff.build(),
                carry_over_spent_time=sla.carry_over_spent_time,
            ),
        )


def load_service_levels(path: Path | None = None) -> ServiceLevels:
    """Return the service levels in the file (the packaged KB-005 defaults if None); raises ConfigFileError."""
    return load_config(path or DEFAULT_SERVICE_LEVELS_FILE, ServiceLevelsFile, what="service levels file").build()
