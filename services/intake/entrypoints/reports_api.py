"""Reports for support staff: the exact SLA report per severity, as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.sla_report import SeverityRow, rows_as_csv
from services.intake.entrypoints.auth import Caller
from services.intake.entrypoints.common import PROBLEMS
from services.intake.service_layer.reports import ReportRefused, report_window, sla_report_for
from shared.problems import Problem

router = APIRouter(prefix="/v1/reports", tags=["reports"])
From = Annotated[datetime | None,
                 Query(alias="from", description="inclusive, ISO 8601 with offset; default `to` minus 30 days")]
To = Annotated[datetime | None, Query(alias="to", description="exclusive, ISO 8601 with offset; default now")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv, or send Accept: text/csv")]
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
    try:
        start, end = report_window(start, end, now)
        report = await sla_report_for(state.views, start, end, max_tickets=state.settings.report_max_tickets)
    except ReportRefused as exc:
        title = "Window too large" if "narrow" in str(exc) else "Invalid request"
        raise Problem(422, title, str(exc)) from exc
    rows = report.rows
    wants_csv = format == "csv" or (format is None and CSV in request.headers.get("accept", ""))
    if wants_csv:
        return Response(rows_as_csv(rows), media_type=CSV,
                        headers={"Content-Disposition": 'attachment; filename="sla-report.csv"'})
    return SlaReportView(window_from=start, window_to=end, generated_at=now,
                         rows=list(rows))
