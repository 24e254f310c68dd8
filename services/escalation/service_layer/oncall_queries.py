"""Questions people ask of on-call: who is on call (now or at T), shifts of a schedule or a person, coverage gaps.

Answers are plain JSON-able data computed from the configuration in force (overrides included); the work
grows with the number of shift boundaries in the range, never with its length.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.escalation.domain.oncall import (
    coverage_gaps,
    on_call_at,
    resolve,
    shifts,
    shifts_for_person,
)
from services.escalation.domain.oncall.config import OnCallConfig
from services.escalation.domain.oncall.intervals import merge
from services.escalation.domain.oncall.people import Person

MAX_RANGE = timedelta(days=400)


class RangeRefused(ValueError):
    """A time range that is empty, reversed or too long."""


class Unknown(LookupError):
    """No such team, schedule or person."""


def check_range(start: datetime, end: datetime) -> None:
    """Raise RangeRefused unless start < end and the range is at most MAX_RANGE."""
    if end <= start:
        raise RangeRefused(f"`to` ({end.isoformat()}) must be after `from` ({start.isoformat()})")
    if end - start > MAX_RANGE:
        raise RangeRefused(f"a range covers at most {MAX_RANGE.days} days")


def person_view(person: Person) -> dict[str, Any]:
    """Return a person as the API shows them."""
    return {"id": person.id, "name": person.name, "email": person.email, "time_zone": person.time_zone,
            "slack": person.slack, "webhook": person.webhook}


def _people(config: OnCallConfig, ids: list[str]) -> list[dict[str, Any]]:
    return [person_view(config.people[i]) if i in config.people else {"id": i} for i in ids]


def on_call_now(config: OnCallConfig, team: str, at: datetime) -> dict[str, Any]:
    """Return who the team has on call at an instant: per schedule, and whom each tier's first step pages."""
    if team not in config.teams():
        raise Unknown(f"no on-call schedule or policy for team {team!r}")
    schedules = [{"schedule": s.id, "on_call": _people(config, on_call_at(s, at))} for s in config.team_schedules(team)]
    policies = []
    for policy in sorted((p for p in config.policies.values() if p.team == team), key=lambda p: p.tier):
        targets = resolve(policy.steps[0].targets, at, config.effective_schedules())
        policies.append({
            "tier": policy.tier, "policy": policy.id,
            "first_step": {"people": _people(config, [t.ref for t in targets if t.kind == "person"]),
                           "channels": [t.ref for t in targets if t.kind == "channel"]},
            "lead": _people(config, [policy.lead])[0],
        })
    return {"team": team, "at": at.isoformat(), "schedules": schedules, "policies": policies}


def schedule_shifts(config: OnCallConfig, schedule_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Return the schedule's final shifts in [start, end): person, name, start, end."""
    check_range(start, end)
    if schedule_id not in config.schedules:
        raise Unknown(f"no schedule {schedule_id!r}")
    return [{"person": s.person, "name": config.people[s.person].name if s.person in config.people else s.person,
             "start": s.start.isoformat(), "end": s.end.isoformat()}
            for s in shifts(config.effective(schedule_id), start, end)]


def person_shifts(config: OnCallConfig, person_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Return one person's shifts on every schedule in [start, end), in time order."""
    check_range(start, end)
    if person_id not in config.people:
        raise Unknown(f"no person {person_id!r}")
    found = [(s.start, schedule.id, schedule.team, s) for schedule in config.effective_schedules().values()
             for s in shifts_for_person(schedule, person_id, start, end)]
    return [{"schedule": sid, "team": team, "start": s.start.isoformat(), "end": s.end.isoformat()}
            for _, sid, team, s in sorted(found, key=lambda item: (item[0], item[1]))]


def _seconds(intervals) -> float:
    return sum((b - a).total_seconds() for a, b in merge(intervals))


def coverage(config: OnCallConfig, start: datetime, end: datetime, team: str | None = None) -> dict[str, Any]:
    """Return the coverage gaps in [start, end) per team and schedule; a team's gap seconds count any schedule's gap once."""
    check_range(start, end)
    teams = [team] if team is not None else config.teams()
    if team is not None and team not in config.teams():
        raise Unknown(f"no on-call schedule or policy for team {team!r}")
    report = []
    for name in teams:
        rows, every_gap = [], []
        for schedule in config.team_schedules(name):
            gaps = coverage_gaps(schedule, start, end)
            every_gap += gaps
            rows.append({"schedule": schedule.id, "gap_seconds": _seconds(gaps),
                         "gaps": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in gaps]})
        report.append({"team": name, "gap_seconds": _seconds(every_gap), "schedules": rows})
    return {"from": start.isoformat(), "to": end.isoformat(), "teams": report}


def gap_seconds_by_team(config: OnCallConfig, start: datetime, end: datetime) -> dict[str, float]:
    """Return, per team with a schedule, the seconds of [start, end) in which some schedule of it has nobody."""
    return {row["team"]: row["gap_seconds"] for row in coverage(config, start, end)["teams"] if row["schedules"]}
