"""The events that finish a delivery: notification.delivered or notification.failed for the delivery,
or for each message folded into a digest (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.domain.deliveries import DELIVERED, DIGEST
from services.notifier.domain.retry import Decision
from shared.contracts import NotificationDelivered, NotificationFailed, make_envelope

PRODUCER = "notifier"


def final_events(delivery: dict[str, Any], subjects: list[dict[str, Any]], attempts: int, decision: Decision,
                 now: datetime) -> list[dict[str, Any]]:
    """Return the envelope documents that report a final decision, one per subject (the delivery or its items)."""
    via_digest = delivery["kind"] == DIGEST or None
    documents = []
    for item in subjects:
        common = dict(delivery_id=item["_id"], source_event_id=item["source_event_id"], message=item["message"],
                      channel=item["channel"], recipient=item["recipient"], attempts=attempts, role=item.get("role"))
        payload = (NotificationDelivered(**common) if decision.state == DELIVERED
                   else NotificationFailed(**common, error=(decision.error or "failed")[:2000], via_digest=via_digest))
        documents.append(make_envelope(payload, producer=PRODUCER, occurred_at=now, ticket_id=item.get("ticket_id"),
                                       correlation_id=item["source_event_id"]).to_document())
    return documents
