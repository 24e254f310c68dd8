"""Reports for support staff: the exact SLA report per severity, as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.sla_report import SeverityRow, rows_as_csv, sla_report
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import PROBLEMS
from services.intake.service_layer.queries import created_between, day_bucket_count
from shared.problems import Problem

router = APIRouter(prefix="/v1/reports", tags=["reports"])
From = Annotated[datetime | None,
                 Query(alias="from", description="inclusive, ISO 8601 with offset; default `to` minus 30 days")]
To = Annotated[datetime | None, Query(alias="to", description="exclusive, ISO 8601 with offset; default now")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv, or send Accept: text/csv")]
DEFAULT_WINDOW = timedelta(days=30)
MAX_REPORT_DAYS = 400
"""Day buckets one report reads at most (a year and a bit)."""
CSV = "text/csv"


class SlaReportView(BaseModel):
    """The SLA report over tickets created in [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    window_from: datetime = Field(alias="from")
    window_to: datetime = Field(alias="to")
    generated_at: datetime
    rows: list[SeverityRow]


_PROBLEM = {"application/problem+json": {}}
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    200: {"description": "The report, as JSON or (Accept: text/csv or format=csv) CSV",
          "content": {CSV: {"schema": {"type": "string"}}}},
    403: {"description": "Only agents and admins may read reports", "content": _PROBLEM},
    422: {"description": "Invalid window, or more tickets in it than one report may read", "content": _PROBLEM},
}


def _window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Return the aware [from, to) window, defaulting to the 30 days before now; 422 if it is not one."""
    for name, bound in (("from", start), ("to", end)):
        if bound is not None and bound.tzinfo is None:
            raise Problem(422, "Invalid request", f"`{name}` needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
    try:
        end = (end or now).astimezone(UTC)
        start = (start or end - DEFAULT_WINDOW).astimezone(UTC)
    except OverflowError as exc:
        raise Problem(422, "Invalid request", "the window must lie between the years 1 and 9999 (UTC)") from exc
    if start >= end:
        raise Problem(422, "Invalid request", "`from` must be before `to`")
    return start, end


@router.get("/sla", response_model=SlaReportView, responses=REPORT_RESPONSES, summary="SLA report per severity")
async def sla(
    caller: Caller,
    request: Request,
    start: From = None,
    end: To = None,
    format: Format = None,  # noqa: A002 - the query parameter's name
) -> Any:
    """Agents and admins: per severity, targets met and breached, compliance %, mean and p90 times (exact)."""
    if not caller.is_staff:
        raise Problem(403, "Forbidden", "only support agents and admins may read SLA reports")
    state = request.app.state
    now = state.clock.now()
    start, end = _window(start, end, now)
    if day_bucket_count(start, end) > MAX_REPORT_DAYS:
        raise Problem(422, "Window too large", f"a report covers at most {MAX_REPORT_DAYS} days; narrow the window")
    tickets = await created_between(state.views, start, end)
    if len(tickets) > state.settings.report_max_tickets:
        raise Problem(422, "Window too large",
                      f"more than {state.settings.report_max_tickets} tickets were created in this window; narrow it")
    rows = sla_report(tickets)
    wants_csv = format == "csv" or (format is None and CSV in request.headers.get("accept", ""))
    if wants_csv:
        return Response(rows_as_csv(rows), media_type=CSV,
                        headers={"Content-Disposition": 'attachment; filename="sla-report.csv"'})
    return SlaReportView(window_from=start, window_to=end, generated_at=now,
                         rows=list(rows))
