"""The SLA report's use case, shared by the JSON API (`GET /v1/reports/sla`) and the console's SLA dashboard.

One window rule and one read: tickets created in [from, to), from the day buckets, refused when the
window is not one, spans too many days or holds more tickets than one report may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.adapters.views import MongoViews
from services.intake.domain.sla_report import SeverityRow, sla_report
from services.intake.service_layer.queries import created_between, days_in_window

DEFAULT_WINDOW = timedelta(days=30)
MAX_REPORT_DAYS = 400
"""Days one report covers at most (a year and a bit)."""


class ReportRefused(ValueError):
    """A window the report cannot cover; the message says what to change."""


def report_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Return the aware [from, to) window, defaulting to the 30 days before now; raise ReportRefused if it is not one."""
    for name, bound in (("from", start), ("to", end)):
        if bound is not None and bound.tzinfo is None:
            raise ReportRefused(f"`{name}` needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
    try:
        end = (end or now).astimezone(UTC)
        start = (start or end - DEFAULT_WINDOW).astimezone(UTC)
    except OverflowError as exc:
        raise ReportRefused("the window must lie between the years 1 and 9999 (UTC)") from exc
    if start >= end:
        raise ReportRefused("`from` must be before `to`")
    if days_in_window(start, end) > MAX_REPORT_DAYS:
        raise ReportRefused(f"a report covers at most {MAX_REPORT_DAYS} days; narrow the window")
    return start, end


@dataclass(frozen=True)
class SlaReport:
    """The exact SLA report of a window, and the summaries it was computed from (the dashboard charts them)."""

    start: datetime
    end: datetime
    rows: list[SeverityRow]
    tickets: list[dict[str, Any]]


async def sla_report_for(views: MongoViews, start: datetime, end: datetime, *, max_tickets: int) -> SlaReport:
    """Return the report over tickets created in [start, end); raise ReportRefused above max_tickets tickets."""
    tickets = await created_between(views, start, end)
    if len(tickets) > max_tickets:
        raise ReportRefused(f"more than {max_tickets} tickets were created in this window; narrow it")
    return SlaReport(start, end, sla_report(tickets), tickets)
