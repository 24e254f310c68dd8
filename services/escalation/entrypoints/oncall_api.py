"""Escalation's on-call API (port 8082): the configuration, who is on call, shifts, gaps, overrides.

Escalation owns paging, so it owns the on-call configuration too; callers use their intake API keys.
Items the on-call file defines are shown with `"source": "file"` and cannot be changed here (409 names
the file). Every refusal names the field at fault; nothing is stored unless the whole result works.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime

from services.escalation.adapters.oncall_build import (
    LocatedError,
    dotted,
    override,
    person,
    policy,
    schedule,
    to_parts,
)
from services.escalation.adapters.oncall_models import (
    ID_PATTERN,
    TEAM_PATTERN,
    OnCallDocument,
    OverrideBody,
    OverrideModel,
    PersonBody,
    PersonModel,
    PolicyBody,
    PolicyModel,
    ScheduleBody,
    ScheduleModel,
)
from services.escalation.domain.oncall.config import policy_key
from services.escalation.entrypoints.oncall_auth import Admin, Staff, actor
from services.escalation.entrypoints.oncall_feeds import feed_url, person_feed, schedule_feed
from services.escalation.service_layer import oncall_config as changes
from services.escalation.service_layer import oncall_queries as queries
from services.escalation.service_layer.oncall_catalog import OnCallProblem, Snapshot
from shared.problems import Problem

_PROBLEM = {"application/problem+json": {}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key", "content": _PROBLEM},
    403: {"description": "Your role may not do this", "content": _PROBLEM},
    404: {"description": "No such team, schedule, person or override", "content": _PROBLEM},
    409: {"description": "Defined in the on-call file, or changed concurrently", "content": _PROBLEM},
    422: {"description": "Invalid body, parameters or configuration; `field` names the culprit", "content": _PROBLEM},
    503: {"description": "Not ready, or intake cannot check the key now; see Retry-After", "content": _PROBLEM},
}
router = APIRouter(prefix="/v1/oncall", tags=["on-call"], responses=PROBLEMS)
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
TeamPath = Annotated[str, Path(pattern=TEAM_PATTERN)]
TierPath = Annotated[int, Path(ge=1, le=4)]
When = Annotated[AwareDatetime | None, Query(description="an instant with its offset; default now")]
From = Annotated[AwareDatetime | None, Query(alias="from", description="range start (default now)")]
To = Annotated[AwareDatetime | None, Query(alias="to", description="range end (default `from` + 14 days)")]
DEFAULT_RANGE = timedelta(days=14)


def _now(request: Request) -> datetime:
    return request.app.state.clock.now()


def _catalog(request: Request):
    catalog = getattr(request.app.state, "oncall", None)
    if catalog is None:
        raise Problem(503, "Not ready", "escalation has not connected to its database yet", headers={"Retry-After": "5"})
    return catalog


def _range(request: Request, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    start = start or _now(request)
    return start, end or start + DEFAULT_RANGE


def config_view(snapshot: Snapshot, file) -> dict[str, Any]:
    """Return the configuration in force: each item with `source` (file or api); the file's items win."""
    view: dict[str, Any] = {"revision": snapshot.rev, "file": str(file.path) if file is not None else None}
    for kind in changes.KINDS:
        own = {changes.item_key(kind, item) for item in getattr(file.document, kind)} if file is not None else set()
        items = [{**item.model_dump(mode="json"), "source": "file"} for item in
                 (getattr(file.document, kind) if file is not None else [])]
        items += [{**item.model_dump(mode="json"), "source": "api"} for item in getattr(snapshot.stored, kind)
                  if changes.item_key(kind, item) not in own]
        view[kind] = items
    return view


async def _change(request: Request, run) -> dict[str, Any]:
    """Run a change and answer with the configuration in force; map refusals to problems naming the field."""
    catalog = _catalog(request)
    try:
        snapshot = await run(catalog)
    except LocatedError as exc:
        raise Problem(422, "Invalid on-call configuration", f"{dotted(exc.loc)}: {exc.problem}",
                      field=dotted(exc.loc)) from exc
    except OnCallProblem as exc:
        raise Problem(422, "Invalid on-call configuration", str(exc), field=exc.field) from exc
    except changes.FileOwned as exc:
        raise Problem(409, "Defined in the on-call file", str(exc)) from exc
    except changes.NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except changes.KeptChanging as exc:
        raise Problem(409, "Concurrent change", str(exc)) from exc
    return config_view(snapshot, catalog.file)


@router.get("", summary="The on-call configuration in force (agents, admins)")
async def get_config(request: Request, caller: Staff) -> dict[str, Any]:
    catalog = _catalog(request)
    return config_view(await catalog.snapshot(), catalog.file)


@router.put("", summary="Replace everything the API stores (admins); the file's items cannot be given")
async def put_config(request: Request, body: OnCallDocument, caller: Admin) -> dict[str, Any]:
    async def run(catalog):
        to_parts(body)
        return await changes.replace_all(catalog, body, by=actor(caller), now=_now(request))
    return await _change(request, run)


@router.put("/people/{person_id}", summary="Add or replace a person (admins)")
async def put_person(request: Request, person_id: IdPath, body: PersonBody, caller: Admin) -> dict[str, Any]:
    model = PersonModel(id=person_id, **body.model_dump())

    async def run(catalog):
        person(model, ())
        return await changes.put_person(catalog, model, by=actor(caller), now=_now(request))
    return await _change(request, run)


@router.put("/schedules/{schedule_id}", summary="Add or replace a schedule (admins)")
async def put_schedule(request: Request, schedule_id: IdPath, body: ScheduleBody, caller: Admin) -> dict[str, Any]:
    model = ScheduleModel(id=schedule_id, **body.model_dump())

    async def run(catalog):
        schedule(model, ())
        return await changes.put_schedule(catalog, model, by=actor(caller), now=_now(request))
    return await _change(request, run)


@router.put("/policies/{team}/{tier}", summary="Add or replace a team's page chain for a tier (admins)")
async def put_policy(request: Request, team: TeamPath, tier: TierPath, body: PolicyBody, caller: Admin
                     ) -> dict[str, Any]:
    model = PolicyModel(team=team, tier=tier, **body.model_dump())

    async def run(catalog):
        policy(model, ())
        return await changes.put_policy(catalog, model, by=actor(caller), now=_now(request))
    return await _change(request, run)


@router.delete("/people/{person_id}", summary="Remove a person (admins); refused while anything names them")
async def delete_person(request: Request, person_id: IdPath, caller: Admin) -> dict[str, Any]:
    return await _change(request, lambda c: changes.delete(c, "people", person_id, by=actor(caller), now=_now(request)))


@router.delete("/schedules/{schedule_id}", summary="Remove a schedule (admins); refused while a policy pages it")
async def delete_schedule(request: Request, schedule_id: IdPath, caller: Admin) -> dict[str, Any]:
    return await _change(request, lambda c: changes.delete(c, "schedules", schedule_id, by=actor(caller),
                                                           now=_now(request)))


@router.delete("/policies/{team}/{tier}", summary="Remove a team's policy for a tier (admins)")
async def delete_policy(request: Request, team: TeamPath, tier: TierPath, caller: Admin) -> dict[str, Any]:
    return await _change(request, lambda c: changes.delete(c, "policies", policy_key(team, tier), by=actor(caller),
                                                           now=_now(request)))


@router.post("/schedules/{schedule_id}/overrides", status_code=201,
             summary="Cover, add or remove someone for a period (agents, admins)")
async def add_override(request: Request, schedule_id: IdPath, body: OverrideBody, caller: Staff) -> dict[str, Any]:
    model = OverrideModel(id=changes.new_override_id(), schedule=schedule_id, **body.model_dump())

    async def run(catalog):
        override(model, ())
        return await changes.add_override(catalog, model, by=actor(caller), now=_now(request))
    view = await _change(request, run)
    return {"override": model.model_dump(mode="json"), "revision": view["revision"]}


@router.delete("/overrides/{override_id}", summary="Remove an override (agents, admins)")
async def delete_override(request: Request, override_id: IdPath, caller: Staff) -> dict[str, Any]:
    return await _change(request, lambda c: changes.delete(c, "overrides", override_id, by=actor(caller),
                                                           now=_now(request)))


async def _ask(request: Request, question):
    """Answer a question about the configuration in force; unknown names are 404, bad ranges 422."""
    config = (await _catalog(request).snapshot()).config
    try:
        return question(config)
    except queries.Unknown as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except queries.RangeRefused as exc:
        raise Problem(422, "Invalid range", str(exc)) from exc


@router.get("/teams/{team}/now", summary="Who is on call for a team, now or at `at`")
async def on_call(request: Request, team: TeamPath, caller: Staff, at: When = None) -> dict[str, Any]:
    return await _ask(request, lambda config: queries.on_call_now(config, team, at or _now(request)))


@router.get("/gaps", summary="Coverage gaps in the next `days` days (or a range), per team and schedule")
async def gaps(request: Request, caller: Staff, team: Annotated[str | None, Query(pattern=TEAM_PATTERN)] = None,
               days: Annotated[int, Query(ge=1, le=366)] = 14, start: From = None) -> dict[str, Any]:
    begin = start or _now(request)
    return await _ask(request, lambda config: queries.coverage(config, begin, begin + timedelta(days=days), team))


@router.get("/schedules/{schedule_id}/shifts", summary="A schedule's shifts in a range (JSON, or format=ics)")
async def schedule_shifts(request: Request, schedule_id: IdPath, caller: Staff, start: From = None, end: To = None,
                          format: Annotated[str, Query(pattern="^(json|ics)$")] = "json") -> Any:
    begin, finish = _range(request, start, end)
    if format == "ics":
        return await schedule_feed(request, schedule_id, begin, finish, lookback=timedelta(0))
    found = await _ask(request, lambda config: queries.schedule_shifts(config, schedule_id, begin, finish))
    return {"schedule": schedule_id, "from": begin.isoformat(), "to": finish.isoformat(), "shifts": found}


@router.get("/people/{person_id}/shifts", summary="A person's shifts on every schedule (JSON, or format=ics)")
async def person_shifts(request: Request, person_id: IdPath, caller: Staff, start: From = None, end: To = None,
                        format: Annotated[str, Query(pattern="^(json|ics)$")] = "json") -> Any:
    begin, finish = _range(request, start, end)
    if format == "ics":
        return await person_feed(request, person_id, begin, finish, lookback=timedelta(0))
    found = await _ask(request, lambda config: queries.person_shifts(config, person_id, begin, finish))
    return {"person": person_id, "from": begin.isoformat(), "to": finish.isoformat(), "shifts": found}


def _known(kind: str, key: str):
    """Return a question that raises Unknown unless the configuration has this schedule or person."""
    def question(config) -> None:
        if key not in (config.schedules if kind == "schedule" else config.people):
            raise queries.Unknown(f"no {kind} {key!r}")
    return question


@router.get("/schedules/{schedule_id}/feed", summary="The iCal subscription URL of a schedule")
async def schedule_feed_url(request: Request, schedule_id: IdPath, caller: Staff) -> dict[str, str]:
    await _ask(request, _known("schedule", schedule_id))
    return {"url": feed_url(request, "schedule", schedule_id)}


@router.get("/people/{person_id}/feed", summary="The iCal subscription URL of a person's shifts")
async def person_feed_url(request: Request, person_id: IdPath, caller: Staff) -> dict[str, str]:
    await _ask(request, _known("person", person_id))
    return {"url": feed_url(request, "person", person_id)}
