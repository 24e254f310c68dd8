"""In-memory fakes of the adapters, for unit tests only."""

from __future__ import annotations

import copy
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from shared.contracts import Envelope
from shared.ids import new_id
from services.intake.domain.principals import Principal, Role


class FakeTickets:
    """Tickets in a dict, with the same apply-once contract as MongoTickets."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.sequence = 0

    async def next_sequence(self, name: str = "ticket") -> int:
        self.sequence += 1
        return self.sequence

    async def insert(self, document: dict[str, Any]) -> None:
        self.documents[document["_id"]] = copy.deepcopy(document)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.documents.get(ticket_id))

    async def change(self, ticket_id, condition, fields, entries, events) -> bool:
        document = self.documents.get(ticket_id)
        if document is None:
            raise LookupError(ticket_id)
        if any(document.get(k) != v for k, v in condition.items()):
            return False
        document.update(copy.deepcopy(fields))
        document["timeline"].extend(copy.deepcopy(entries))
        document["outbox"].extend(copy.deepcopy(events))
        return True

    async def search(self, query, limit):
        raise NotImplementedError("list filtering is tested against the real database")

    async def by_number(self, number: str) -> dict[str, Any] | None:
        for document in self.documents.values():
            if document["number"] == number:
                return copy.deepcopy(document)
        return None

    async def apply_once(self, ticket_id: str, event_id: str, fields: dict, entry: dict) -> bool:
        document = self.documents.get(ticket_id)
        if document is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        if event_id in document["applied_events"]:
            return False
        document.update(fields)
        document["timeline"].append(entry)
        document["applied_events"].append(event_id)
        return True



class FakeApiKeys:
    """API keys in a dict."""

    def __init__(self) -> None:
        self.keys: dict[str, Principal] = {}

    async def create(self, role: Role, name: str, email: str | None, now: datetime) -> tuple[str, Principal]:
        key = f"ik_{new_id()}"
        principal = Principal(id=new_id(), role=role, name=name, email=email)
        self.keys[key] = principal
        return key, principal

    async def authenticate(self, key: str) -> Principal | None:
        return self.keys.get(key)

    async def find_by_email(self, email: str, role: Role | None = None) -> Principal | None:
        for principal in self.keys.values():
            if principal.email == email and (role is None or principal.role is role):
                return principal
        return None


class FakeDeliveries:
    """Delivery records in a dict."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def open(self, delivery_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.records.setdefault(delivery_id, {**fields, "_id": delivery_id, "state": "pending", "attempts": []})
        return copy.deepcopy(self.records[delivery_id])

    async def record_attempt(self, delivery_id: str, *, at, outcome, error, duration_seconds) -> None:
        record = self.records[delivery_id]
        record["attempts"].append({"at": at, "outcome": outcome, "error": error})
        if outcome == "delivered":
            record["state"] = "delivered"


class FakeEmailSender:
    """Collects e-mails; fails the next `fail_next` sends."""

    def __init__(self, fail_next: int = 0) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = fail_next

    async def send(self, message: EmailMessage) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionRefusedError("SMTP server refused the connection")
        self.sent.append(message)


class FakeClocks:
    """SLA clocks in a dict."""

    def __init__(self) -> None:
        self.clocks: dict[str, dict[str, Any]] = {}

    async def start(self, ticket_id: str, fields: dict[str, Any]) -> None:
        self.clocks.setdefault(ticket_id, fields)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        return self.clocks.get(ticket_id)


class FakePublisher:
    """Records published envelopes."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


class FakeDecisions:
    """Triage records in a dict, with the same guarded-change contract as MongoDecisions."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def record(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.records.setdefault(ticket_id, {"_id": ticket_id, **copy.deepcopy(fields), "changes": []})
        return copy.deepcopy(self.records[ticket_id])

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        record = self.records.get(ticket_id)
        return copy.deepcopy(record) if record is not None else None

    async def change_severity(self, ticket_id: str, expected_severity: str, fields: dict, change: dict) -> bool:
        record = self.records.get(ticket_id)
        if record is None:
            raise LookupError(f"triage_tickets {ticket_id} does not exist")
        if record["severity"] != expected_severity:
            return False
        record.update(copy.deepcopy(fields))
        record["changes"].append(change)
        return True


class FakeFingerprintGroups:
    """Duplicate groups in a dict, with the same registration rules as MongoFingerprintGroups."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    async def register(self, fingerprint: str, member, window):
        from services.triage.adapters.fingerprints import Registration, new_group, view
        from services.triage.domain.duplicates import joins

        document = self.documents.get(fingerprint)
        if document is None or (
            member.ticket_id not in document["member_ids"] and not joins(view(document), member.reported_at, window)
        ):
            self.documents[fingerprint] = new_group(fingerprint, member)
            return Registration(view(self.documents[fingerprint]), is_primary=True, newly_joined=False)
        if member.ticket_id in document["member_ids"]:
            return Registration(view(document), document["primary_ticket_id"] == member.ticket_id, False)
        document["reports"] += 1
        document["users_affected"] += member.users
        document["member_ids"].append(member.ticket_id)
        return Registration(view(document), is_primary=False, newly_joined=True)
