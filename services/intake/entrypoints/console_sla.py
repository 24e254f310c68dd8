"""The console's SLA dashboard (`/console/sla`): the exact SLA report of a period, charted, with its CSV and the
Prometheus query behind each figure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.intake.domain import sla_dashboard as dash
from services.intake.domain.charts import column_chart, line_chart
from services.intake.domain.sla_report import SEVERITIES, rows_as_csv
from services.intake.entrypoints.console_web import require_staff
from services.intake.entrypoints.portal_web import portal_of
from services.intake.service_layer.reports import ReportRefused, report_window, sla_report_for

router = APIRouter(include_in_schema=False)
PRESETS = {"7": 7, "30": 30, "90": 90, "365": 365}
SHORTCUTS = (("g", "Back to the queue"), ("?", "Show these shortcuts"))


def _day(value: str | None) -> date | None:
    """Return a YYYY-MM-DD day, or None for anything else."""
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def window_of(params: Any, now: datetime) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """Return the window the URL asks for: whole UTC days `from`..`to` (inclusive), or the last `days` days."""
    first, last = _day(params.get("from")), _day(params.get("to"))
    if first or last:
        start = datetime.combine(first, time.min, UTC) if first else None
        end = datetime.combine(last + timedelta(days=1), time.min, UTC) if last else None
        chosen = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v}
        return start, end, chosen
    days = PRESETS.get(params.get("days") or "30", 30)
    return now - timedelta(days=days), now, {"days": str(days)}


def resolution_targets(sla: Any) -> dict[str, float]:
    """Return each severity's resolution allowance in the seconds its outcomes are measured in (working for Low)."""
    found = {}
    for severity in SEVERITIES:
        allowance = sla.allowance(severity, "resolution")
        if allowance is not None:
            found[severity] = allowance.budget(sla.calendar).total_seconds()
    return found


async def dashboard_context(request: Request) -> dict[str, Any]:
    """Return the dashboard: the report, its charts, the figures of now and the links to their queries."""
    state = request.app.state
    now = state.clock.now()
    start, end, chosen = window_of(request.query_params, now)
    context: dict[str, Any] = {"chosen": chosen, "shortcuts": SHORTCUTS, "error": None, "presets": list(PRESETS),
                               "severities": SEVERITIES}
    try:
        start, end = report_window(start, end, now)
        report = await sla_report_for(state.views, start, end, max_tickets=state.settings.report_max_tickets)
    except ReportRefused as exc:
        context["error"] = str(exc)
        return context
    spans = dash.periods(start, end)
    labels = [p.label for p in spans]
    targets = resolution_targets(state.sla)
    ratios = dash.resolution_ratios(report.tickets, targets)
    open_entries = await state.views.open_entries()
    context.update(
        start=start, end=end, last_day=(end - timedelta(seconds=1)).date(), rows=report.rows,
        response_chart=line_chart(labels, dash.compliance_series(report.tickets, spans, "response")),
        resolution_chart=line_chart(labels, dash.compliance_series(report.tickets, spans, "resolution")),
        ratio_chart=column_chart(list(dash.RATIO_LABELS), ratios, marker_after=3), ratios=ratios,
        ratio_labels=dash.RATIO_LABELS, targets=targets,
        now_counts=dash.now_counts(open_entries, now, state.sla.calendar, state.sla.at_risk_fraction),
        escalations=dash.escalations(report.tickets), vendors=dash.vendor_answers(report.tickets),
        links={figure: dash.prometheus_link(state.settings.prometheus_url, figure, start, end)
               for figure in dash.QUERIES},
        csv_query="&".join(f"{k}={v}" for k, v in chosen.items()))
    return context


@router.get("/console/sla")
async def sla_dashboard(request: Request) -> Response:
    """The SLA dashboard for a period (default: the last 30 days)."""
    await require_staff(request)
    context = await dashboard_context(request)
    return await portal_of(request).render(request, "console/sla.html", context,
                                           status=422 if context["error"] else 200)


@router.get("/console/sla.csv")
async def sla_csv(request: Request) -> Response:
    """The dashboard's report as CSV (the same rows as `GET /v1/reports/sla?format=csv`)."""
    await require_staff(request)
    state = request.app.state
    now = state.clock.now()
    start, end, _ = window_of(request.query_params, now)
    portal = portal_of(request)
    try:
        start, end = report_window(start, end, now)
        report = await sla_report_for(state.views, start, end, max_tickets=state.settings.report_max_tickets)
    except ReportRefused as exc:
        return await portal.render(request, "error.html", {"title": "This report cannot be made",
                                                           "message": f"{exc}."}, status=422)
    name = f"sla-report-{start:%Y%m%d}-{(end - timedelta(seconds=1)):%Y%m%d}.csv"
    return portal.secured(Response(rows_as_csv(report.rows), media_type="text/csv",
                                   headers={"Content-Disposition": f'attachment; filename="{name}"'}))
