"""Reads for reports: bounded projections of the tickets collection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.adapters.tickets import COLLECTION
from services.intake.domain.sla_report import PROJECTION


class WindowTooLarge(Exception):
    """More tickets were created in the window than one report may read."""


async def tickets_created_between(db: AsyncDatabase, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
    """Return every ticket created in [start, end) with the report's fields; raise WindowTooLarge beyond limit."""
    cursor = db[COLLECTION].find({"created_at": {"$gte": start, "$lt": end}}, PROJECTION).limit(limit + 1)
    documents = await cursor.to_list()
    if len(documents) > limit:
        raise WindowTooLarge(f"more than {limit} tickets were created in this window; narrow it")
    return documents
