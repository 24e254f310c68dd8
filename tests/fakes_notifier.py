"""In-memory fakes of the notifier's adapters (deliveries, rate slots, channels), for unit tests only."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from services.notifier.domain.deliveries import CLAIMABLE, HELD, NEVER, Outgoing
from services.notifier.domain.retry import SendResult, delivered


class RecordingWorker:
    """Stands in for the delivery loop in a notifier handler: leases nothing, records the deliveries handed over."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def leased(self, document: dict[str, Any]) -> dict[str, Any]:
        return document

    def start(self, document: dict[str, Any]) -> None:
        self.started.append(document["_id"])


class FakeDeliveries:
    """Delivery documents in a dict, with the same claim/lease/settle contract as MongoDeliveries."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def create(self, document: dict[str, Any]) -> bool:
        if document["_id"] in self.records:
            return False
        self.records[document["_id"]] = copy.deepcopy(document)
        return True

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        record = self.records.get(delivery_id)
        return copy.deepcopy(record) if record is not None else None

    def _due(self, record: dict[str, Any], now: datetime) -> bool:
        return (record["state"] in CLAIMABLE and record["next_attempt_at"] <= now and record["lease_until"] <= now)

    async def due(self, now: datetime, limit: int) -> list[str]:
        ready = sorted((r for r in self.records.values() if self._due(r, now)), key=lambda r: r["next_attempt_at"])
        return [r["_id"] for r in ready[:limit]]

    async def handled(self, delivery_id: str) -> None:
        """Nothing to remove: due() reads the records themselves."""

    async def postpone(self, delivery_id: str, now: datetime) -> None:
        """Nothing to keep: due() reads the records themselves."""

    async def index_existing(self, now: datetime) -> int | None:
        return None

    async def claim(self, delivery_id: str, now: datetime, lease_until: datetime, owner: str) -> dict[str, Any] | None:
        record = self.records.get(delivery_id)
        if record is None or not self._due(record, now):
            return None
        record.update(lease_until=lease_until, lease_owner=owner, unsettled_leases=record.get("unsettled_leases", 0) + 1)
        return copy.deepcopy(record)

    async def settle(self, delivery_id: str, owner: str, fields: dict[str, Any], *, attempt=None, outbox=None) -> bool:
        record = self.records[delivery_id]
        if record.get("lease_owner") != owner:
            return False
        record.update(copy.deepcopy(fields), lease_until=NEVER, lease_owner=None, unsettled_leases=0)
        if attempt is not None:
            record["attempts"].append(copy.deepcopy(attempt))
        record["outbox"].extend(copy.deepcopy(outbox or []))
        return True

    async def held_for(self, channel: str, recipient: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.records.values()
                if r["channel"] == channel and r["recipient"] == recipient and r["state"] == HELD]

    async def join_digest(self, delivery_id: str, digest_id: str, now: datetime, owner: str | None) -> bool:
        record = self.records[delivery_id]
        if record["state"] != HELD:
            return False
        if (owner is not None and record.get("lease_owner") != owner) or (owner is None and record["lease_until"] > now):
            return False
        record.update(state="digested", digest_id=digest_id, updated_at=now, lease_until=NEVER, lease_owner=None)
        return True

    async def items(self, digest_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.records.values() if r.get("digest_id") == digest_id]

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.records.values() if r.get("ticket_id") == ticket_id]

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return every envelope document written to any delivery outbox."""
        found = [e for r in self.records.values() for e in r["outbox"]]
        return [e for e in found if event_type is None or e["event_type"] == event_type]


class FakeRateSlots:
    """Send slots in a dict, with MongoRateSlots' rules."""

    def __init__(self) -> None:
        self.slots: dict[str, dict[str, Any]] = {}

    async def acquire(self, key: str, holder: str, now: datetime, interval: timedelta) -> datetime | None:
        slot = self.slots.setdefault(key, {"free_at": NEVER, "holder": None})
        if slot["holder"] == holder or slot["free_at"] <= now:
            slot.update(free_at=now + interval, holder=holder)
            return None
        return slot["free_at"]


class FakeChannel:
    """Records what it was asked to send and answers with scripted results (then delivered)."""

    def __init__(self, *results: SendResult) -> None:
        self.script = list(results)
        self.sent: list[Outgoing] = []

    async def send(self, outgoing: Outgoing) -> SendResult:
        self.sent.append(outgoing)
        return self.script.pop(0) if self.script else delivered(200)
