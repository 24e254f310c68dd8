"""Rebuilding intake's read models from the tickets (the system of record): `incidents rebuild-views`."""

from __future__ import annotations

from services.intake.adapters.tickets import MongoTickets
from services.intake.domain.views import build_views


async def rebuild_views(tickets: MongoTickets) -> int:
    """Replace every view document by one built from the tickets; return how many documents were written.

    Run it with the services stopped (or accept that writes during the rebuild may be overwritten
    until the ticket's next change): it reads every ticket once.
    """
    stored = [ticket async for ticket in tickets.all()]
    documents = build_views(stored)
    await tickets.views.replace_all(documents)
    return len(documents)
