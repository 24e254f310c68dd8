"""The `triage_records` collection: triage's own record of each ticket it classified.

A triage record holds the decision (severity, rule, reason, tier, team), the due times it set, the
report it judged (so growth of a duplicate group can be judged again) and the log of severity changes.
"""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.triage.domain.classification import Report
from shared.contracts import IncidentType, Severity, TicketKind
from shared.documents import guarded_update
from shared.locks import KeyedLocks
from shared.persistence import IndexSpec

COLLECTION = "triage_records"
INDEXES = [IndexSpec(COLLECTION, [("number", 1)])]


class TriageRecords(Protocol):
    """Triage's per-ticket records (decision, due times, the report it judged)."""

    async def record(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]: ...

    async def get(self, ticket_id: str) -> dict[str, Any] | None: ...

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any]
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

    def __init__(self, db: AsyncDatabase, locks: KeyedLocks | None = None) -> None:
        self.collection = db[COLLECTION]
        self.locks = locks if locks is not None else KeyedLocks()

    async def record(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store the first decision for a ticket and return the stored record (a repeat keeps the first)."""
        # insert rather than a $setOnInsert upsert: the docstore drops empty arrays from upserts
        try:
            await self.collection.insert_one({"_id": ticket_id, **fields, "changes": [], "rev": 0})
        except DuplicateKeyError:
            pass
        stored = await self.collection.find_one({"_id": ticket_id})
        assert stored is not None
        return stored

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """Return triage's record of a ticket, if any."""
        return await self.collection.find_one({"_id": ticket_id})

    async def change_severity(
        self, ticket_id: str, expected_severity: str, fields: dict[str, Any], change: dict[str, Any]
    ) -> bool:
        """Set fields and log the change if the severity is still `expected_severity`; return True if written."""
        return await guarded_update(
            self.collection,
            ticket_id,
            {"severity": expected_severity},
            {"$set": fields, "$push": {"changes": change}},
            locks=self.locks,
        )
