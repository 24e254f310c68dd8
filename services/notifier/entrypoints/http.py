"""GET /v1/deliveries: every delivery of a ticket and each of its attempts, for agents and admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Query, Request

from services.notifier.adapters.deliveries import Deliveries
from shared.identities import KeyRoles, require_staff
from shared.problems import Problem


@dataclass
class HttpDeps:
    """Repositories the routes use; filled in when the runtime has connected."""

    deliveries: Deliveries | None = None
    keys: KeyRoles | None = None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def delivery_view(document: dict[str, Any]) -> dict[str, Any]:
    """Return the public form of a delivery: no endpoint URLs, attempts with outcome, error and timing."""
    return {
        "id": document["_id"],
        "message": document["message"],
        "channel": document["channel"],
        "recipient": {"key": document["recipient"], "name": document.get("recipient_name"), "role": document.get("role")},
        "target": document["address"],
        "state": document["state"],
        "source_event_id": document.get("source_event_id"),
        "digest_id": document.get("digest_id"),
        "created_at": _iso(document.get("created_at")),
        "next_attempt_at": _iso(document.get("next_attempt_at")) if document["state"] in ("pending", "held") else None,
        "delivered_at": _iso(document.get("delivered_at")),
        "failed_at": _iso(document.get("failed_at")),
        "last_error": document.get("last_error"),
        "attempts": [{key: _iso(value) for key, value in attempt.items()} for attempt in document.get("attempts", [])],
    }


def install_routes(app: FastAPI, deps: HttpDeps) -> None:
    """Add the deliveries route to the notifier app."""

    @app.get("/v1/deliveries", tags=["deliveries"], summary="Deliveries and attempts of a ticket (agents, admins)")
    async def list_deliveries(
        request: Request, ticket_id: str = Query(min_length=1, max_length=100, description="the ticket's id")
    ) -> dict[str, Any]:
        if deps.deliveries is None or deps.keys is None:
            raise Problem(503, "Not ready", "the notifier has not connected to its database yet")
        await require_staff(request, deps.keys, "delivery records are")
        documents = await deps.deliveries.for_ticket(ticket_id)
        return {"ticket_id": ticket_id, "deliveries": [delivery_view(doc) for doc in documents]}
