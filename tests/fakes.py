"""In-memory fakes of the adapters, for unit tests only."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.intake.domain.principals import Principal, Role
from services.notifier.domain.deliveries import CLAIMABLE, HELD, NEVER, Outgoing
from services.notifier.domain.retry import SendResult, delivered
from shared.contracts import Envelope
from shared.ids import new_id
from shared.locks import KeyedLocks
from shared.matching import matches


class FakeTickets:
    """Tickets in a dict, with the same guarded, apply-once contract as MongoTickets."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.numbers: dict[str, str] = {}
        self.sequence = 0
        self.reprojected: list[str] = []
        """Tickets whose views a redelivered event asked to write again."""

    async def next_sequence(self, name: str = "ticket") -> int:
        self.sequence += 1
        return self.sequence

    async def reserve_number(self, number: str, ticket_id: str) -> None:
        if self.numbers.setdefault(number, ticket_id) != ticket_id:
            raise DuplicateKeyError(f"number {number} is taken")

    async def insert(self, document: dict[str, Any]) -> None:
        await self.reserve_number(document["number"], document["_id"])
        self.documents[document["_id"]] = copy.deepcopy(document)

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.documents.get(ticket_id))

    async def by_number(self, number: str) -> dict[str, Any] | None:
        ticket_id = self.numbers.get(number)
        return await self.get(ticket_id) if ticket_id else None

    async def applied(self, ticket_id: str, event_id: str) -> bool:
        if ticket_id not in self.documents:
            raise LookupError(f"ticket {ticket_id} does not exist")
        return event_id in self.documents[ticket_id].get("applied_events", [])

    async def change(self, ticket_id, condition, fields, entries, events, *, event_id=None) -> bool:
        document = self.documents.get(ticket_id)
        if document is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        if not matches(document, condition):
            return False
        if event_id is not None:
            if event_id in document["applied_events"]:
                self.reprojected.append(ticket_id)
                return False
        if callable(entries):
            entries = entries(document)
        for key, value in copy.deepcopy(fields(document) if callable(fields) else fields).items():
            target = document
            *parents, last = key.split(".")
            for parent in parents:
                target = target[parent]
            target[last] = value
        if event_id is not None:
            document["applied_events"].append(event_id)
        document["timeline"].extend(copy.deepcopy(entries))
        document["outbox"].extend(copy.deepcopy(events))
        return True

    async def reproject(self, ticket_id: str) -> None:
        """There are no views here; remember that they would have been written again."""
        self.reprojected.append(ticket_id)


class FakeApiKeys:
    """API keys in a dict."""

    def __init__(self) -> None:
        self.keys: dict[str, Principal] = {}
        self.revoked: set[str] = set()

    async def create(self, role: Role, name: str, email: str | None, now: datetime, *,
                     expires_at: datetime | None = None, vendor_id: str | None = None) -> tuple[str, Principal]:
        key = f"ik_{new_id()}"
        principal = Principal(id=new_id(), role=role, name=name, email=email, vendor_id=vendor_id)
        self.keys[key] = principal
        return key, principal

    async def authenticate(self, key: str) -> Principal | None:
        return self.keys.get(key)

    async def find_by_email(self, email: str, role: Role | None = None) -> Principal | None:
        for principal in self.keys.values():
            if principal.email == email and (role is None or principal.role is role):
                return principal
        return None

    async def register_reporter(self, email: str, name: str, now: datetime) -> Principal:
        known = await self.find_by_email(email, Role.REPORTER)
        if known is not None:
            return known
        principal = Principal(id=new_id(), role=Role.REPORTER, name=name, email=email.lower())
        self.keys[f"no-key:{principal.id}"] = principal
        self.revoked.add(f"no-key:{principal.id}")
        return principal

    async def active_staff_by_email(self, email: str) -> Principal | None:
        for key, principal in self.keys.items():
            if principal.email == email.lower() and principal.is_staff and key not in self.revoked:
                return principal
        return None


class FakeMailReceipts:
    """Mail receipts in a dict, with the same claim-with-lease contract as MongoMailReceipts."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    async def begin(self, key: str, *, ticket_id: str, owner: str, now: datetime,
                    lease_until: datetime) -> dict[str, Any] | None:
        existing = self.documents.get(key)
        if existing is None:
            self.documents[key] = {"_id": key, "state": "accepting", "ticket_id": ticket_id, "owner": owner,
                                   "lease_until": lease_until, "parts_done": 0}
            return copy.deepcopy(self.documents[key])
        if existing["state"] == "done":
            return copy.deepcopy(existing)
        if existing["lease_until"] >= now:
            return None
        existing.update(owner=owner, lease_until=lease_until)
        return copy.deepcopy(existing)

    async def progress(self, key: str, owner: str, fields: dict[str, Any]) -> bool:
        document = self.documents.get(key)
        if document is None or document["owner"] != owner or document["state"] != "accepting":
            return False
        document.update(fields)
        return True

    async def finish(self, key: str, owner: str, reply: str, now: datetime) -> bool:
        return await self.progress(key, owner, {"state": "done", "reply": reply})

    async def abandon(self, key: str, owner: str) -> None:
        document = self.documents.get(key)
        if document is not None and document["owner"] == owner and document["state"] == "accepting":
            del self.documents[key]


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


class FakeKeyRoles:
    """API key -> role in a dict."""

    def __init__(self, roles: dict[str, str] | None = None) -> None:
        self.roles = roles or {}

    async def role_of(self, key: str) -> str | None:
        return self.roles.get(key)


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


class FakeSourceRecords:
    """Source records (alert groups, Slack requests) in a dict: claim by `_id`, compare-and-set on `rev`."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.writes = 0

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.documents.get(record_id))

    async def claim(self, document: dict[str, Any]) -> bool:
        if document["_id"] in self.documents:
            return False
        self.documents[document["_id"]] = {**copy.deepcopy(document), "rev": 0}
        self.writes += 1
        return True

    async def change(self, record_id: str, rev: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        current = self.documents.get(record_id)
        if current is None or current["rev"] != rev:
            return None
        current.update(copy.deepcopy(fields))
        current["rev"] += 1
        self.writes += 1
        return copy.deepcopy(current)

    async def bump(self, record_id: str, states: list[str], fields: dict[str, Any]) -> dict[str, Any] | None:
        current = self.documents.get(record_id)
        if current is None or current.get("state") not in states:
            return None
        current.update(copy.deepcopy(fields))
        current["events"] = current.get("events", 0) + 1
        current["rev"] += 1
        self.writes += 1
        return copy.deepcopy(current)


class FakeVotes:
    """Votes per ticket in a dict of voter sets."""

    def __init__(self) -> None:
        self.voters: dict[str, dict[str, datetime]] = {}

    async def add(self, ticket_id: str, voter_id: str, now: datetime) -> int | None:
        voters = self.voters.setdefault(ticket_id, {})
        if voter_id in voters:
            return None
        voters[voter_id] = now
        return len(voters)

    async def count(self, ticket_id: str) -> int:
        return len(self.voters.get(ticket_id, {}))

    async def voted(self, ticket_ids: list[str], voter_id: str) -> set[str]:
        return {t for t in ticket_ids if voter_id in self.voters.get(t, {})}


class FakeAttachments:
    """Attachments in dicts; `fail_next` makes the next store raise, as a database outage would."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.data: dict[str, bytes] = {}
        self.fail_next = 0

    async def store(self, attachment_id, ticket_id, filename, content_type, data, uploader_id, now) -> dict[str, Any]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("the database is unreachable")
        meta = {"_id": attachment_id, "ticket_id": ticket_id, "filename": filename, "content_type": content_type,
                "size": len(data), "uploaded_by": uploader_id, "uploaded_at": now}
        self.files[attachment_id] = meta
        self.data[attachment_id] = data
        return meta

    async def get(self, attachment_id: str) -> dict[str, Any] | None:
        return self.files.get(attachment_id)

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        return [meta for meta in self.files.values() if meta["ticket_id"] == ticket_id]

    async def read(self, attachment_id: str):
        yield self.data[attachment_id]

    def of(self, ticket_id: str) -> list[dict[str, Any]]:
        return [meta for meta in self.files.values() if meta["ticket_id"] == ticket_id]


class FakeSignInTokens:
    """Sign-in links, claims and counters in dicts, with MongoSignInTokens' single-use contract."""

    def __init__(self) -> None:
        self.links: dict[str, dict[str, Any]] = {}
        self.claims: set[str] = set()
        self.counters: dict[str, int] = {}

    async def issue(self, email: str, next_path: str, now: datetime, expires_at: datetime) -> str:
        token = f"tok-{new_id()}"
        self.links[token] = {"email": email, "next": next_path, "expires_at": expires_at}
        return token

    async def peek(self, token: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.links.get(token))

    async def redeem(self, token: str, now: datetime) -> dict[str, Any] | None:
        link = self.links.get(token)
        if link is None or "used_at" in link or link["expires_at"] <= now:
            return None
        link["used_at"] = now
        return copy.deepcopy(link)

    async def claim_once(self, claim_id: str, now: datetime, expires_at: datetime) -> bool:
        if claim_id in self.claims:
            return False
        self.claims.add(claim_id)
        return True

    async def count(self, kind: str, subject: str, now: datetime, window: timedelta) -> int:
        key = f"{kind}:{subject}:{int(now.timestamp() // window.total_seconds())}"
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


class FakeWebSessions:
    """Sessions in a dict."""

    def __init__(self) -> None:
        self.sessions: dict[str, tuple[Principal, datetime, str]] = {}

    async def create(self, principal: Principal, now: datetime, expires_at: datetime, via: str) -> str:
        session_id = f"s-{new_id()}"
        self.sessions[session_id] = (principal, expires_at, via)
        return session_id

    async def principal(self, session_id: str, now: datetime) -> Principal | None:
        found = self.sessions.get(session_id)
        return found[0] if found is not None and found[1] > now else None

    async def end(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)


class FakeMailer:
    """Records the e-mails it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html})


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


class FakeIdentities:
    """API key -> identity (id, role, name) in a dict."""

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None) -> None:
        self.keys = keys or {}

    async def identity_of(self, key: str):
        from shared.identities import Identity

        found = self.keys.get(key)
        return Identity(id=found[0], role=found[1], name=found[0].title()) if found else None
