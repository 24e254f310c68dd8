"""In-memory fakes of intake's adapters, for unit tests only (the notifier's: fakes_notifier.py; triage's and
escalation's: fakes_escalation.py)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.intake.domain.principals import Principal, Role
from shared.ids import new_id
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


class FakeKeyRoles:
    """API key -> role in a dict."""

    def __init__(self, roles: dict[str, str] | None = None) -> None:
        self.roles = roles or {}

    async def role_of(self, key: str) -> str | None:
        return self.roles.get(key)


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


class FakeIdentities:
    """API key -> identity (id, role, name) in a dict."""

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None) -> None:
        self.keys = keys or {}

    async def identity_of(self, key: str):
        from shared.identities import Identity

        found = self.keys.get(key)
        return Identity(id=found[0], role=found[1], name=found[0].title()) if found else None
