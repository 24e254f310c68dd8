"""Duplicate groups: `triage_fingerprints` holds one open group per report fingerprint, with its
counters and the ids of its latest members; `triage_fingerprint_members` holds one document per member.

A group document stays small however many reports join (an incident storm is when triage must be
fast): joining is one guarded write of the counters and the recent-members ring, and the member's
own document is written after it (the primary's with the first duplicate's: a group of one needs none). A report counts once: it is in the group if it is in the ring
or has a member document, and a crash between the two writes leaves it in the ring, where the
retry finds it (the ring holds the last RECENT members, far more than can join between a crash
and the redelivery of the messages that were in flight).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.triage.domain.duplicates import GroupView, joins
from shared.documents import MAX_ATTEMPTS, LostRace, guarded_update, pause_after_lost_race
from shared.persistence import IndexSpec

COLLECTION = "triage_fingerprints"
MEMBERS = "triage_fingerprint_members"
INDEXES = [IndexSpec(COLLECTION, [("primary_ticket_id", 1)]), IndexSpec(MEMBERS, [("primary_ticket_id", 1)])]
ATTEMPTS = MAX_ATTEMPTS
RECENT = 200
MAX_REPORTERS = 2000
"""Distinct reporters a group remembers; beyond them growth stops counting (severity is at its top long before)."""


@dataclass(frozen=True)
class Member:
    """One report as a member of a duplicate group, with who reported it."""

    ticket_id: str
    number: str
    reported_at: datetime
    users: int
    """The users the report claims are affected: they count for the group only if it opened the group."""
    reporter_id: str | None = None
    verified: bool = True


@dataclass(frozen=True)
class Registration:
    """Where a report landed: its group (after it joined) and whether it opened it or just joined."""

    group: GroupView
    is_primary: bool
    newly_joined: bool


class FingerprintGroups(Protocol):
    """Duplicate groups keyed by fingerprint."""

    async def register(self, fingerprint: str, member: Member, window: timedelta) -> Registration: ...


def new_group(fingerprint: str, member: Member) -> dict[str, Any]:
    """Return the document of a group opened by its first (primary) report."""
    return {
        "_id": fingerprint,
        "primary_ticket_id": member.ticket_id,
        "primary_number": member.number,
        "opened_at": member.reported_at,
        "last_report_at": member.reported_at,
        "reports": 1,
        "users_affected": member.users,
        "reporters": [member.reporter_id] if member.reporter_id else [],
        "recent_ids": [member.ticket_id],
        "rev": 0,
    }


def joining_users(document: dict[str, Any], member: Member) -> int:
    """Return how many affected users a joining report adds: one for a verified reporter new to the group, else none.

    A report's own claim (`users_affected`) counts only for the ticket it opened: a look-alike report
    cannot raise someone else's ticket by claiming a huge number, and the same reporter filing again
    adds nothing.
    """
    known = document.get("reporters") or []
    if not member.verified or member.reporter_id is None or member.reporter_id in known:
        return 0
    return 0 if len(known) >= MAX_REPORTERS else 1


def view(document: dict[str, Any]) -> GroupView:
    """Return the domain view of a stored group."""
    return GroupView(
        fingerprint=document["_id"],
        primary_ticket_id=document["primary_ticket_id"],
        primary_number=document["primary_number"],
        opened_at=document["opened_at"],
        reports=int(document["reports"]),
        users_affected=int(document["users_affected"]),
    )


def member_document(fingerprint: str, primary_ticket_id: str, member: Member) -> dict[str, Any]:
    """Return the record of one member of the group a primary opened (its id is unique per group)."""
    return {"_id": f"{primary_ticket_id}|{member.ticket_id}", "fingerprint": fingerprint,
            "primary_ticket_id": primary_ticket_id, "ticket_id": member.ticket_id, "number": member.number,
            "reported_at": member.reported_at, "users": member.users}


class MongoFingerprintGroups:
    """Groups in MongoDB; joining is a guarded write, so no report is counted twice or lost."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[COLLECTION]
        self.members = db[MEMBERS]

    async def register(self, fingerprint: str, member: Member, window: timedelta) -> Registration:
        """Open a group with this report or add it to the open one; a repeated report is not counted again."""
        try:  # most reports open their own group: try that first (one command)
            await self.collection.insert_one(new_group(fingerprint, member))
            return Registration(view(new_group(fingerprint, member)), is_primary=True, newly_joined=False)
        except DuplicateKeyError:
            pass
        for attempt in range(ATTEMPTS):
            await pause_after_lost_race(attempt)
            document = await self.collection.find_one({"_id": fingerprint})
            if document is None:
                try:
                    await self.collection.insert_one(new_group(fingerprint, member))
                except DuplicateKeyError:
                    continue
                return Registration(view(new_group(fingerprint, member)), is_primary=True, newly_joined=False)
            group = view(document)
            if member.ticket_id == group.primary_ticket_id:
                return Registration(group, is_primary=True, newly_joined=False)
            recent_ids = document.get("recent_ids", document.get("member_ids", []))  # member_ids: before members had documents
            if member.ticket_id in recent_ids:
                await self._record(fingerprint, group.primary_ticket_id, member)
                return Registration(group, is_primary=False, newly_joined=False)
            if await self.members.find_one({"_id": f"{group.primary_ticket_id}|{member.ticket_id}"}) is not None:
                return Registration(group, is_primary=False, newly_joined=False)
            if not joins(group, member.reported_at, window):
                fresh = new_group(fingerprint, member)
                fresh.pop("_id"), fresh.pop("rev")
                if await self._guarded(fingerprint, {"rev": document.get("rev", 0)}, {"$set": fresh, **_legacy(document)}):
                    return Registration(view({"_id": fingerprint, **fresh}), is_primary=True, newly_joined=False)
                continue
            recent = [*recent_ids, member.ticket_id][-RECENT:]
            adds = joining_users(document, member)
            sets: dict[str, Any] = {"last_report_at": member.reported_at, "recent_ids": recent}
            if adds:
                sets["reporters"] = [*(document.get("reporters") or []), member.reporter_id]
            joined = await self._guarded(
                fingerprint,
                {"rev": document.get("rev", 0)},
                {"$inc": {"reports": 1, "users_affected": adds}, "$set": sets, **_legacy(document)},
            )
            if joined:
                await self._record(fingerprint, group.primary_ticket_id, member)
                if group.reports == 1:  # the first duplicate: the primary's own member document too
                    primary = Member(group.primary_ticket_id, group.primary_number, group.opened_at, 0)
                    await self._record(fingerprint, group.primary_ticket_id, primary)
                after = await self.collection.find_one({"_id": fingerprint}, {"recent_ids": 0})
                assert after is not None
                return Registration(view(after), is_primary=False, newly_joined=True)
        raise LostRace(f"duplicate group {fingerprint} kept changing while {member.number} joined it")

    async def _record(self, fingerprint: str, primary_ticket_id: str, member: Member) -> None:
        """Store the member's document (once; it may exist already after a retry)."""
        try:
            await self.members.insert_one(member_document(fingerprint, primary_ticket_id, member))
        except DuplicateKeyError:
            pass

    async def _guarded(self, fingerprint: str, condition: dict[str, Any], update: dict[str, Any]) -> bool:
        """Apply a guarded update; False if the condition no longer holds or the group vanished."""
        try:
            return await guarded_update(self.collection, fingerprint, condition, update)
        except LookupError:
            return False


def _legacy(document: dict[str, Any]) -> dict[str, Any]:
    """Return an $unset of the unbounded member arrays groups held before members had documents."""
    fields = {name: "" for name in ("member_ids", "members") if name in document}
    return {"$unset": fields} if fields else {}
