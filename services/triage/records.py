"""How triage stores the report it judged inside its own record, and reads it back."""

from __future__ import annotations

from typing import Any

from shared.contracts import IncidentType, Severity, TicketKind, TicketReported
from services.triage.domain.classification import Report


def report_of(event: TicketReported) -> Report:
    """Return what triage judges in a reported ticket."""
    return Report(
        kind=event.kind,
        type=event.type,
        title=event.title,
        description=event.description,
        reported_severity=event.reported_severity,
        users_affected=event.users_affected,
        production=event.production,
        workaround_available=event.workaround_available,
        component=event.component,
    )


def report_document(report: Report) -> dict[str, Any]:
    """Return a report as stored in triage's record (enums as their values)."""
    return {
        "kind": report.kind.value,
        "type": report.type.value,
        "title": report.title,
        "description": report.description,
        "reported_severity": report.reported_severity.value if report.reported_severity else None,
        "users_affected": report.users_affected,
        "production": report.production,
        "workaround_available": report.workaround_available,
        "component": report.component,
    }


def report_from_document(document: dict[str, Any]) -> Report:
    """Return the report stored in triage's record."""
    severity = document.get("reported_severity")
    return Report(
        **{**document, "kind": TicketKind(document["kind"]), "type": IncidentType(document["type"]),
           "reported_severity": Severity(severity) if severity else None}
    )
