"""The schema of the triage rules file and how it becomes a TriagePolicy (validation only, no I/O)."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from shared.contracts import IncidentType, Severity, TicketKind
from services.triage.domain.calendar import BusinessCalendar
from services.triage.domain.policy import TriagePolicy
from services.triage.domain.rules import Conditions, Route, RuleBook, SeverityRule
from services.triage.domain.sla import SlaPolicy, SlaTargets, Target

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _valid_regex(pattern: str) -> str:
    """Return the pattern if it compiles, else raise naming the regular-expression error."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


def _wall_clock(value: Any) -> Any:
    """Refuse YAML's reading of an unquoted 09:00 as a number (base 60)."""
    if isinstance(value, int):
        raise ValueError("write times in quotes, e.g. '09:00' (unquoted, YAML reads them as numbers)")
    return value


Regex = Annotated[str, AfterValidator(_valid_regex)]
WallClock = Annotated[time, BeforeValidator(_wall_clock)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionsModel(_Strict):
    """Conditions as written in the file."""

    kind: list[TicketKind] = []
    type: list[IncidentType] = []
    severity: list[Severity] = []
    component: list[str] = []
    production: bool | None = None
    workaround_available: bool | None = None
    users_affected_at_least: int | None = Field(default=None, ge=0)
    users_affected_at_most: int | None = Field(default=None, ge=0)
    text_matches: list[Regex] = []

    def build(self) -> Conditions:
        """Return the domain conditions (regular expressions compiled)."""
        return Conditions(
            kind=frozenset(self.kind),
            type=frozenset(self.type),
            severity=frozenset(self.severity),
            component=frozenset(c.lower() for c in self.component),
            production=self.production,
            workaround_available=self.workaround_available,
            users_affected_at_least=self.users_affected_at_least,
            users_affected_at_most=self.users_affected_at_most,
            text_matches=tuple(re.compile(p) for p in self.text_matches),
        )


RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]


class RuleModel(_Strict):
    id: RuleId
    severity: Severity
    reason: str = Field(min_length=1, max_length=500)
    when: ConditionsModel = ConditionsModel()


class SeveritySection(_Strict):
    default: Severity
    rules: list[RuleModel]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[RuleModel]) -> list[RuleModel]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen or rule.id in ("reporter", "default"):
                raise ValueError(f"rule id {rule.id!r} is used twice or reserved")
            seen.add(rule.id)
        return rules


class RouteModel(_Strict):
    id: RuleId
    tier: int = Field(ge=1, le=4)
    when: ConditionsModel = ConditionsModel()


class RoutingSection(_Strict):
    teams: dict[Annotated[int, Field(ge=1, le=4)], Annotated[str, Field(min_length=1, max_length=100)]]
    default_tier: int = Field(ge=1, le=4)
    routes: list[RouteModel]

    @model_validator(mode="after")
    def _every_tier_has_a_team(self) -> RoutingSection:
        missing = sorted(({r.tier for r in self.routes} | {self.default_tier}) - set(self.teams))
        if missing:
            raise ValueError(f"no team for Tier {', '.join(map(str, missing))}")
        return self


class TargetModel(_Strict):
    hours: float | None = Field(default=None, gt=0)
    business_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_unit(self) -> TargetModel:
        if (self.hours is None) == (self.business_days is None):
            raise ValueError("give exactly one of `hours` or `business_days`")
        return self

    def build(self) -> Target:
        return Target(hours=self.hours or 0, business_days=self.business_days or 0)


class SeverityTargets(_Strict):
    response: TargetModel
    resolution: TargetModel


class SlaSection(_Strict):
    acknowledge: TargetModel
    targets: dict[Severity, SeverityTargets]
    carry_over_spent_time: bool = True

    @field_validator("targets")
    @classmethod
    def _all_severities(cls, targets: dict[Severity, SeverityTargets]) -> dict[Severity, SeverityTargets]:
        missing = [s.value for s in Severity if s not in targets]
        if missing:
            raise ValueError(f"targets missing for {', '.join(missing)}")
        return targets


class WorkingHours(_Strict):
    start: WallClock
    end: WallClock

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working hours must start before they end")
        return self


class HolidaysModel(_Strict):
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


class CalendarSection(_Strict):
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


class DuplicatesSection(_Strict):
    window_hours: float = Field(gt=0, le=24 * 365)


class RulesFile(_Strict):
    """The whole rules file."""

    severity: SeveritySection
    routing: RoutingSection
    sla: SlaSection
    calendar: CalendarSection
    duplicates: DuplicatesSection

    def build(self) -> TriagePolicy:
        """Return the domain policy this file describes."""
        rulebook = RuleBook(
            rules=tuple(SeverityRule(r.id, r.severity, r.reason, r.when.build()) for r in self.severity.rules),
            routes=tuple(Route(r.id, r.tier, r.when.build()) for r in self.routing.routes),
            teams=dict(self.routing.teams),
            default_severity=self.severity.default,
            default_tier=self.routing.default_tier,
        )
        return TriagePolicy(
            rulebook=rulebook,
            sla=SlaPolicy(
                targets={s: SlaTargets(t.response.build(), t.resolution.build()) for s, t in self.sla.targets.items()},
                acknowledge=self.sla.acknowledge.build(),
                calendar=self._calendar(),
            ),
            duplicate_window=timedelta(hours=self.duplicates.window_hours),
            carry_over_spent_time=self.sla.carry_over_spent_time,
        )

    def _calendar(self) -> BusinessCalendar:
        """Return the business calendar, with the public holidays of the configured country."""
        section = self.calendar
        days: Any = frozenset(section.holidays.extra)
        if section.holidays.country is not None:
            days = holiday_calendars.country_holidays(section.holidays.country, subdiv=section.holidays.subdivision)
            days.update(section.holidays.extra)
        return BusinessCalendar(
            timezone=ZoneInfo(section.timezone),
            opens=section.working_hours.start,
            closes=section.working_hours.end,
            weekend=frozenset(WEEKDAYS.index(d.lower()) for d in section.weekend),
            holidays=days,
        )
