"""In-memory fakes of triage's and escalation's adapters (records, clocks, on-call), for unit tests only."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from shared.contracts import Envelope
from shared.locks import KeyedLocks


def storable(value: Any, where: str = "") -> Any:
    """Return value if MongoDB would store it: no document key with a dot or a leading `$` (else AssertionError)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str) and "." not in key and not key.startswith("$"), \
                f"MongoDB refuses the key {key!r} at {where or 'the top'}"
            storable(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            storable(item, f"{where}[{n}]")
    return value


class FakeClocks:
    """SLA clocks in a dict, with MongoClocks' revision-guarded saves and lease-based claims."""

    def __init__(self) -> None:
        self.clocks: dict[str, dict[str, Any]] = {}
        self.sequence = 0
        self.locks = KeyedLocks()

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.clocks.get(ticket_id))

    async def create(self, document: dict[str, Any]) -> bool:
        if document["_id"] in self.clocks:
            return False
        self.clocks[document["_id"]] = copy.deepcopy(storable(document))
        return True

    async def save(self, before, after, outbox, vendor_outbox, condition=None) -> bool:
        from services.escalation.adapters.clocks import state_of

        current = self.clocks[before["_id"]]
        if current["rev"] != before["rev"] or any(current.get(k) != v for k, v in (condition or {}).items()):
            return None
        current.update(copy.deepcopy(storable(state_of(after))))
        current["outbox"].extend(copy.deepcopy(outbox))
        current["vendor_outbox"].extend(copy.deepcopy(vendor_outbox))
        current["rev"] += 1
        return copy.deepcopy(current)

    def _due(self, document: dict[str, Any], now: datetime) -> bool:
        return document["next_due_at"] is not None and document["next_due_at"] <= now and document["lease_until"] <= now

    async def due(self, now: datetime, limit: int) -> list[str]:
        ready = sorted((d for d in self.clocks.values() if self._due(d, now)), key=lambda d: d["next_due_at"])
        return [d["_id"] for d in ready[:limit]]

    async def handled(self, ticket_id: str) -> None:
        """Nothing to remove: due() reads the clocks themselves."""

    async def postpone(self, ticket_id: str, now: datetime) -> None:
        """Nothing to keep: due() reads the clocks themselves."""

    async def index_existing(self, now: datetime) -> int | None:
        return None

    async def claim(self, ticket_id: str, now: datetime, lease_until: datetime, owner: str) -> bool:
        document = self.clocks.get(ticket_id)
        if document is None or not self._due(document, now):
            return False
        document.update(lease_until=lease_until, lease_owner=owner, rev=document["rev"] + 1)
        return True

    async def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return every envelope document written to any clock outbox, in order."""
        found = [e for d in self.clocks.values() for e in d["outbox"]]
        return [e for e in found if event_type is None or e["event_type"] == event_type]


class FakePublisher:
    """Records published envelopes."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


class FakeTriageRecords:
    """Triage records in a dict, with the same guarded-change contract as MongoTriageRecords; `drain()` returns
    the events the records came to owe since the last call (new records' first, then severity changes')."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self._owed_by_records: list[dict[str, Any]] = []
        self._owed_by_changes: list[dict[str, Any]] = []

    async def record(self, ticket_id: str, fields: dict[str, Any], outbox: list[dict[str, Any]]) -> bool:
        if ticket_id in self.records:
            return False
        self.records[ticket_id] = {"_id": ticket_id, **copy.deepcopy(fields), "changes": [],
                                   "outbox": copy.deepcopy(outbox)}
        self._owed_by_records += copy.deepcopy(outbox)
        return True

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        record = self.records.get(ticket_id)
        return copy.deepcopy(record) if record is not None else None

    async def republish(self, ticket_id: str) -> None:
        """Nothing to do: drain() already handed out what the record owes."""

    async def change_severity(self, ticket_id: str, expected_severity: str, fields: dict, change: dict,
                              outbox: list[dict[str, Any]]) -> bool:
        record = self.records.get(ticket_id)
        if record is None:
            raise LookupError(f"triage_records {ticket_id} does not exist")
        if record["severity"] != expected_severity:
            return False
        record.update(copy.deepcopy(fields))
        record["changes"].append(change)
        self._owed_by_changes += copy.deepcopy(outbox)
        return True

    def drain(self) -> list[Envelope]:
        """Return (and forget) the events owed since the last call, as envelopes."""
        owed = self._owed_by_records + self._owed_by_changes
        self._owed_by_records, self._owed_by_changes = [], []
        return [Envelope.model_validate(raw) for raw in owed]


class FakeFingerprintGroups:
    """Duplicate groups in a dict, with the same registration rules as MongoFingerprintGroups."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    async def register(self, fingerprint: str, member, window):
        from services.triage.adapters.fingerprints import Registration, joining_users, new_group, view
        from services.triage.domain.duplicates import joins

        document = self.documents.get(fingerprint)
        members = document.setdefault("all_member_ids", list(document["recent_ids"])) if document else []
        if document is None or (member.ticket_id not in members and not joins(view(document), member.reported_at, window)):
            self.documents[fingerprint] = new_group(fingerprint, member)
            self.documents[fingerprint]["all_member_ids"] = [member.ticket_id]
            return Registration(view(self.documents[fingerprint]), is_primary=True, newly_joined=False)
        if member.ticket_id in members:
            return Registration(view(document), document["primary_ticket_id"] == member.ticket_id, False)
        document["reports"] += 1
        adds = joining_users(document, member)
        document["users_affected"] += adds
        if adds:
            document["reporters"] = [*document.get("reporters", []), member.reporter_id]
        members.append(member.ticket_id)
        return Registration(view(document), is_primary=False, newly_joined=True)


class StaticOnCall:
    """An on-call source whose configuration a test sets (and changes) directly."""

    def __init__(self, config=None) -> None:
        self.config = config

    async def current(self):
        return self.config


class FakeOnCallStore:
    """The stored on-call document in memory, with MongoOnCallStore's compare-and-set on the revision."""

    def __init__(self) -> None:
        self.rev = 0
        self.content: dict[str, Any] = {}
        self.writes = 0
        self.updated_by: str | None = None

    async def revision(self) -> int:
        return self.rev

    async def read(self):
        from services.escalation.adapters.oncall_store import StoredConfig

        return StoredConfig(self.rev, copy.deepcopy(self.content), None, self.updated_by)

    async def write(self, rev: int, content: dict[str, Any], by: str, now: datetime) -> bool:
        if rev != self.rev:
            return False
        self.rev, self.content, self.updated_by = rev + 1, copy.deepcopy(content), by
        self.writes += 1
        return True
