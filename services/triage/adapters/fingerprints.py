"""The `triage_fingerprints` collection: one open duplicate group per report fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import LostRace, guarded_update
from shared.locks import KeyedLocks
from shared.persistence import IndexSpec
from services.triage.domain.duplicates import GroupView, joins

COLLECTION = "triage_fingerprints"
INDEXES = [IndexSpec(COLLECTION, [("primary_ticket_id", 1)])]
ATTEMPTS = 10


@dataclass(frozen=True)
class Member:
    """One report as a member of a duplicate group."""

    ticket_id: str
    number: str
    reported_at: datetime
    users: int


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
        "member_ids": [member.ticket_id],
        "members": [_member_document(member)],
        "rev": 0,
    }


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


def _member_document(member: Member) -> dict[str, Any]:
    return {"ticket_id": member.ticket_id, "number": member.number, "reported_at": member.reported_at, "users": member.users}


class MongoFingerprintGroups:
    """Groups in MongoDB; joining is a guarded write, so no report is counted twice or lost."""

    def __init__(self, db: AsyncDatabase, locks: KeyedLocks | None = None) -> None:
        self.collection = db[COLLECTION]
        self.locks = locks if locks is not None else KeyedLocks()

    async def register(self, fingerprint: str, member: Member, window: timedelta) -> Registration:
        """Open a group with this report or add it to the open one; a repeated report is not counted again."""
        async with self.locks.hold(("register", fingerprint)):
            for _ in range(ATTEMPTS):
                document = await self.collection.find_one({"_id": fingerprint})
                if document is None:
                    try:
                        await self.collection.insert_one(new_group(fingerprint, member))
                    except DuplicateKeyError:
                        continue
                    return Registration(view(new_group(fingerprint, member)), is_primary=True, newly_joined=False)
                if member.ticket_id in document["member_ids"]:
                    primary = document["primary_ticket_id"] == member.ticket_id
                    return Registration(view(document), is_primary=primary, newly_joined=False)
                group = view(document)
                if not joins(group, member.reported_at, window):
                    fresh = new_group(fingerprint, member)
                    fresh.pop("_id"), fresh.pop("rev")
                    if await self._guarded(fingerprint, {"primary_ticket_id": group.primary_ticket_id}, {"$set": fresh}):
                        return Registration(view({"_id": fingerprint, **fresh}), is_primary=True, newly_joined=False)
                    continue
                joined = await self._guarded(
                    fingerprint,
                    {"member_ids": {"$ne": member.ticket_id}},
                    {
                        "$inc": {"reports": 1, "users_affected": member.users},
                        "$push": {"member_ids": member.ticket_id, "members": _member_document(member)},
                        "$set": {"last_report_at": member.reported_at},
                    },
                )
                if joined:
                    after = await self.collection.find_one({"_id": fingerprint})
                    assert after is not None
                    return Registration(view(after), is_primary=False, newly_joined=True)
        raise LostRace(f"duplicate group {fingerprint} kept changing while {member.number} joined it")

    async def _guarded(self, fingerprint: str, condition: dict[str, Any], update: dict[str, Any]) -> bool:
        """Apply a guarded update; False if the condition no longer holds or the group vanished."""
        try:
            return await guarded_update(self.collection, fingerprint, condition, update, locks=self.locks)
        except LookupError:
            return False
