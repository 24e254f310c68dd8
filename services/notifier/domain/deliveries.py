"""Delivery documents: their identity, states, what a channel sends, and digests (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.notifier.domain.messages import DIGEST, Notice
from services.notifier.domain.routing import Recipient

PENDING = "pending"
HELD = "held"
ASSEMBLING = "assembling"
DELIVERED = "delivered"
FAILED = "failed"
DIGESTED = "digested"
CLAIMABLE = (PENDING, HELD, ASSEMBLING)
"""States a worker may claim once next_attempt_at has come and no lease is live."""

NEVER = datetime(1970, 1, 1, tzinfo=UTC)

LEASES = "unsettled_leases"
"""Leases taken since the delivery was last settled: every lease adds one, every settle resets it to 0."""


def interrupted_steps(document: dict[str, Any]) -> int:
    """Return how many steps before the current lease ended without storing a result (lease ran out unsettled)."""
    return max(0, int(document.get(LEASES) or 0) - 1)


def delivery_id(event_id: str, channel: str, recipient: str) -> str:
    """Return the key that makes (event, recipient, channel) deliver exactly once."""
    return f"{event_id}:{channel}:{recipient.lower()}"


def digest_id_for(held_delivery_id: str, round_: int = 0) -> str:
    """Return the id of the digest a held delivery starts (stable per round, so a crash re-finds it)."""
    return f"{DIGEST}:{held_delivery_id}" + (f":{round_}" if round_ else "")


def idempotency_key(delivery: str) -> str:
    """Return the stable idempotency key sent with every attempt of a delivery."""
    return hashlib.sha256(delivery.encode("utf-8")).hexdigest()[:32]


def message_id(delivery: str, domain: str) -> str:
    """Return the RFC 5322 Message-ID of a delivery, the same on every retry."""
    return f"<{idempotency_key(delivery)}@{domain}>"


def thread_id(ticket_id: str, domain: str) -> str:
    """Return the Message-ID every e-mail about a ticket replies to, so they thread together."""
    return f"<ticket.{ticket_id}@{domain}>"


@dataclass(frozen=True)
class Content:
    """Rendered message content; stored on the delivery so every retry sends the same bytes."""

    subject: str
    text: str
    html: str | None = None
    blocks: list[dict[str, Any]] | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the BSON form."""
        return {"subject": self.subject, "text": self.text, "html": self.html, "blocks": self.blocks}


def subject_with_number(subject: str, number: str | None) -> str:
    """Return the subject with `[number]` in front unless it already carries the ticket number."""
    subject = " ".join(subject.split())
    if number and number not in subject:
        return f"[{number}] {subject}"
    return subject


def new_delivery(notice: Notice, message: str, recipient: Recipient, content: Content, now: datetime) -> dict[str, Any]:
    """Return a pending delivery document, due now, for one (event, recipient, channel)."""
    return {
        "_id": delivery_id(notice.event_id, recipient.channel.value, recipient.key),
        "kind": "message",
        "state": PENDING,
        "ticket_id": notice.ticket_id,
        "number": notice.number,
        "source_event_id": notice.event_id,
        "event_type": notice.event_type,
        "message": message,
        "channel": recipient.channel.value,
        "recipient": recipient.key,
        "recipient_name": recipient.name,
        "role": recipient.role.value,
        "address": recipient.address,
        "content": content.to_document(),
        "data": notice.context,
        "created_at": now,
        "updated_at": now,
        "next_attempt_at": now,
        "lease_until": NEVER,
        "lease_owner": None,
        LEASES: 0,
        "attempts": [],
        "outbox": [],
    }


def new_digest(held: dict[str, Any], now: datetime, lease_until: datetime, owner: str) -> dict[str, Any]:
    """Return the digest document a held delivery starts, leased by its creator while it collects items."""
    return {
        "_id": digest_id_for(held["_id"], held.get("digest_round", 0)),
        "kind": DIGEST,
        "state": ASSEMBLING,
        "ticket_id": None,
        "number": None,
        "source_event_id": held["source_event_id"],
        "event_type": held["event_type"],
        "message": DIGEST,
        "channel": held["channel"],
        "recipient": held["recipient"],
        "recipient_name": held.get("recipient_name"),
        "role": held.get("role"),
        "address": held["address"],
        "content": None,
        "data": {},
        "created_at": now,
        "updated_at": now,
        "next_attempt_at": now,
        "lease_until": lease_until,
        "lease_owner": owner,
        LEASES: 1,
        "attempts": [],
        "outbox": [],
    }


def digest_context(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the template context of a digest: the held messages in the order they were created."""
    ordered = sorted(items, key=lambda d: (d["created_at"], d["_id"]))
    return {
        "count": len(ordered),
        "recipient_name": ordered[0].get("recipient_name") if ordered else None,
        "items": [
            {
                "message": item["message"],
                "number": item.get("number"),
                "subject": (item.get("content") or {}).get("subject"),
                "text": (item.get("content") or {}).get("text"),
                "data": item.get("data") or {},
            }
            for item in ordered
        ],
    }


@dataclass(frozen=True)
class Outgoing:
    """Everything a channel needs for one attempt of one delivery."""

    delivery_id: str
    channel: str
    address: str
    content: Content
    message: str
    ticket_id: str | None = None
    number: str | None = None
    source_event_id: str | None = None
    event_type: str | None = None
    recipient_role: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    endpoint: str | None = None
    """The routing file's name of the endpoint (webhook and Slack channels): it selects the signing key."""

    @property
    def idempotency_key(self) -> str:
        """Return the key receivers use to recognise a re-send."""
        return idempotency_key(self.delivery_id)

    def webhook_body(self) -> dict[str, Any]:
        """Return the generic webhook JSON body; identical on every attempt (no send time inside)."""
        body: dict[str, Any] = {
            "delivery_id": self.delivery_id,
            "idempotency_key": self.idempotency_key,
            "message": self.message,
            "event_id": self.source_event_id,
            "event_type": self.event_type,
            "ticket": {"id": self.ticket_id, "number": self.number} if self.ticket_id else None,
            "recipient_role": self.recipient_role,
            "subject": self.content.subject,
            "text": self.content.text,
            "data": self.data,
        }
        if self.message == DIGEST:
            body["items"] = self.items
        return body


def attempt_record(*, at: datetime, channel: str, target: str, outcome: str, error: str | None,
                   status: int | None, duration_seconds: float, retry_at: datetime | None) -> dict[str, Any]:
    """Return the stored record of one attempt."""
    return {
        "at": at, "channel": channel, "target": target, "outcome": outcome, "error": error,
        "status": status, "duration_seconds": round(duration_seconds, 6), "next_attempt_at": retry_at,
    }


def redact_url(url: str) -> str:
    """Return scheme://host[:port] of a URL: webhook paths often carry secrets (e.g. Slack tokens)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"
