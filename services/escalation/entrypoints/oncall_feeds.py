"""iCal (RFC 5545) feeds of on-call shifts that calendar apps subscribe to, per schedule and per person.

Calendar apps cannot send an API key, so a feed's URL carries its own proof: a token signed with
ONCALL_FEED_SECRET naming the schedule or person (staff get the URL from the API). A token for one feed
opens no other; changing the secret revokes every feed URL. By default a feed shows the last 7 days and
the next FEED_DAYS; `from`/`to` ask for an exact range (shifts cut to it, as the API's JSON shows them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime

from services.escalation.domain.oncall.ical import LOOKBACK, person_calendar, schedule_calendar
from services.escalation.service_layer import oncall_queries as queries
from shared.problems import Problem
from shared.signed_tokens import BadToken, sign, verify

PURPOSE = "oncall-feed"
FEED_DAYS = 60
CALENDAR = "text/calendar; charset=utf-8"
router = APIRouter(tags=["on-call"])


def feed_token(kind: str, ref: str, secret: str) -> str:
    """Return the token of the feed of one schedule or person."""
    return sign(PURPOSE, {"kind": kind, "ref": ref}, secret)


def feed_url(request: Request, kind: str, ref: str) -> str:
    """Return the public subscription URL of a feed."""
    settings = request.app.state.settings
    return f"{settings.oncall_feed_base_url.rstrip('/')}/oncall/feeds/{feed_token(kind, ref, settings.oncall_feed_secret)}.ics"


async def _calendar(request: Request, build) -> Response:
    catalog = getattr(request.app.state, "oncall", None)
    if catalog is None:
        raise Problem(503, "Not ready", "escalation has not connected to its database yet", headers={"Retry-After": "5"})
    config = (await catalog.snapshot()).config
    try:
        body = build(config)
    except (queries.Unknown, KeyError) as exc:
        raise Problem(404, "Not found", "no such on-call feed") from exc
    return Response(body, media_type=CALENDAR, headers={"Cache-Control": "private, max-age=300"})


async def schedule_feed(request: Request, schedule_id: str, start: datetime, end: datetime, *,
                        lookback: timedelta = LOOKBACK) -> Response:
    """Return a schedule's feed for [start, end)."""
    def build(config):
        if schedule_id not in config.schedules:
            raise queries.Unknown(schedule_id)
        return schedule_calendar(config.effective(schedule_id), start, end, dtstamp=request.app.state.clock.now(),
                                 people=config.people, lookback=lookback)
    return await _range_checked(request, start, end, build)


async def person_feed(request: Request, person_id: str, start: datetime, end: datetime, *,
                      lookback: timedelta = LOOKBACK) -> Response:
    """Return a person's feed (their shifts on every schedule) for [start, end)."""
    def build(config):
        if person_id not in config.people:
            raise queries.Unknown(person_id)
        return person_calendar(config.effective_schedules().values(), person_id, start, end,
                               dtstamp=request.app.state.clock.now(), people=config.people, lookback=lookback)
    return await _range_checked(request, start, end, build)


async def _range_checked(request: Request, start: datetime, end: datetime, build) -> Response:
    try:
        queries.check_range(start, end)
    except queries.RangeRefused as exc:
        raise Problem(422, "Invalid range", str(exc)) from exc
    return await _calendar(request, build)


@router.get("/oncall/feeds/{token}.ics", summary="An iCal feed by its signed URL (no API key: the URL is the proof)",
            response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
async def feed(request: Request, token: Annotated[str, Path(max_length=1024)],
               start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
               end: Annotated[AwareDatetime | None, Query(alias="to")] = None) -> Response:
    try:
        claims = verify(token, PURPOSE, request.app.state.settings.oncall_feed_secret)
    except BadToken as exc:
        raise Problem(404, "Not found", "no such on-call feed") from exc
    now = request.app.state.clock.now()
    lookback = timedelta(0) if start is not None else LOOKBACK
    begin = start or now
    finish = end or begin + timedelta(days=FEED_DAYS)
    kind, ref = claims.get("kind"), str(claims.get("ref"))
    if kind == "schedule":
        return await schedule_feed(request, ref, begin, finish, lookback=lookback)
    if kind == "person":
        return await person_feed(request, ref, begin, finish, lookback=lookback)
    raise Problem(404, "Not found", "no such on-call feed")
