"""The `triage_records` collection: triage's own record of each ticket it classified.

A triage record holds the decision (severity, rule, reason, tier, team), the due times it set, the
report it judged (so growth of a duplicate group can be judged again) and the log of severity changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.triage.domain.classification import Report
from shared.contracts import IncidentType, Severity, TicketKind
from shared.documents import guarded_update
from shared.persistence import IndexSpec

COLLECTION = "triage_records"
INDEXES = [IndexSpec(COLLECTION, [("number", 1)])]


class TriageRecords(Protocol):
    """Triage's per-ticket records (decision, due times, the report it judged) and the events they owe."""

    async def record(self, ticket_id: str, fields: dict[str, Any], outbox: list[dict[str, Any]]) -> bool: ...

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def republish(self, ticket_id: str) -> None: ...

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any],
        outbox: list[dict[str, Any]],
    ) -> bool: ...


def report_to_document(report: Report) -> dict[str, Any]:
    """Return a report as stored in a triage record (enums as their values)."""
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
        "severity_pinned": report.severity_pinned,
    }


def report_from_document(document: dict[str, Any]) -> Report:
    """Return the report stored in a triage record."""
    severity = document.get("reported_severity")
    return Report(
        **{**document, "kind": TicketKind(document["kind"]), "type": IncidentType(document["type"]),
           "reported_severity": Severity(severity) if severity else None}
    )


class MongoTriageRecords:
    """Triage records in MongoDB; severity changes are guarded single-document writes."""

    def __init__(self, db: AsyncDatabase,
                 on_outbox: Callable[[str, str, dict[str, Any] | None], None] | None = None) -> None:
        self.collection = db[COLLECTION]
        self._on_outbox = on_outbox or (lambda collection, record_id, document: None)

    async def record(self, ticket_id: str, fields: dict[str, Any], outbox: list[dict[str, Any]]) -> bool:
        """Store the first decision for a ticket with the events it owes; False if a record exists (kept as it is)."""
        # insert rather than a $setOnInsert upsert: the docstore drops empty arrays from upserts
        document = {"_id": ticket_id, **fields, "changes": [], "outbox": outbox, "rev": 0}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        if outbox:
            self._on_outbox(COLLECTION, ticket_id, document)
        return True

    async def republish(self, ticket_id: str) -> None:
        """Have the relay publish whatever the record still owes (after a redelivery)."""
        self._on_outbox(COLLECTION, ticket_id, None)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return triage's record of a ticket, if any."""
        return await self.collection.find_one({"_id": ticket_id})

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any],
        outbox: list[dict[str, Any]],
    ) -> bool:
        """Set fields, log the change and owe its events if the severity is still `expected_severity`; True if written."""
        pushes: dict[str, Any] = {"changes": change}
        if outbox:
            pushes["outbox"] = {"$each": outbox}
        written = await guarded_update(self.collection, ticket_id, {"severity": expected_severity},
                                       {"$set": fields, "$push": pushes})
        if written and outbox:
            self._on_outbox(COLLECTION, ticket_id, None)
        return written
