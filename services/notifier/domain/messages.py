"""Which message goes to whom for an event, and the identifiers that make delivery idempotent (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from shared.contracts import TicketTriaged


@dataclass(frozen=True)
class Notification:
    """One message for one recipient on one channel, caused by one event."""

    source_event_id: str
    message: str
    channel: str
    recipient: str
    subject: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def delivery_id(self) -> str:
        """Return the key that makes (event, recipient, channel) deliver at most once."""
        return f"{self.source_event_id}:{self.channel}:{self.recipient.lower()}"

    def message_id(self, domain: str) -> str:
        """Return a stable RFC 5322 Message-ID, the same on every retry of this delivery."""
        digest = hashlib.sha256(self.delivery_id.encode()).hexdigest()[:32]
        return f"<{digest}@{domain}>"


def acknowledgement(event_id: str, event: TicketTriaged) -> Notification | None:
    """Return the 'ticket received' e-mail for the reporter, or None if they gave no address."""
    if not event.reporter.email:
        return None
    return Notification(
        source_event_id=event_id,
        message="ticket_received",
        channel="email",
        recipient=str(event.reporter.email),
        subject=f"[{event.number}] We received your report: {event.title}",
        context={
            "reporter_name": event.reporter.name,
            "number": event.number,
            "title": event.title,
            "severity": event.severity.value.capitalize(),
            "team": event.team,
            "tier": event.tier,
            "response_target": event.response_target,
            "response_due_at": event.response_due_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
    )
