"""Server-side sessions of the web portal: the browser holds a random id, the database only its hash.

`web_sessions` (`_id` = SHA-256 of the session id) holds who signed in, how, and until when;
`web_session_owners` (`_id` = principal id) lists a person's sessions so they can all be ended at
once (an admin revoking the person). Every read and write goes by `_id`; expired sessions are
deleted through a timing wheel (shared/schedule.py, written before the session), so nothing scans.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.principals import Principal, Role
from shared.persistence import IndexSpec
from shared.schedule import Schedule

COLLECTION = "web_sessions"
OWNERS = "web_session_owners"
INDEXES: list[IndexSpec] = []
"""Read and written by _id only."""
MAX_SESSION_ID_LENGTH = 100


def session_hash(session_id: str) -> str:
    """Return the SHA-256 hex digest under which a session is stored."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def principal_document(principal: Principal) -> dict[str, Any]:
    """Return what a session remembers of the person who signed in."""
    return {"id": principal.id, "role": principal.role.value, "name": principal.name, "email": principal.email,
            "vendor_id": principal.vendor_id}


class MongoWebSessions:
    """Create, resolve and end portal sessions."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.sessions = db[COLLECTION]
        self.owners = db[OWNERS]
        self.expiry = Schedule(db, COLLECTION, bucket_seconds=600)

    async def create(self, principal: Principal, now: datetime, expires_at: datetime, via: str) -> str:
        """Store a new session for principal until expires_at and return its id (shown to the browser only)."""
        session_id = secrets.token_urlsafe(32)
        key = session_hash(session_id)
        await self.expiry.add(key, expires_at, now)
        await self.sessions.insert_one({"_id": key, "principal": principal_document(principal), "created_at": now,
                                        "expires_at": expires_at, "via": via})
        await self.owners.find_one_and_update({"_id": principal.id}, {"$set": {f"sessions.{key}": expires_at}},
                                              upsert=True)
        return session_id

    async def principal(self, session_id: str, now: datetime) -> Principal | None:
        """Return who holds this session, or None if it does not exist, has ended or has expired."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        record = await self.sessions.find_one({"_id": session_hash(session_id)})
        if record is None or record["expires_at"] <= now:
            return None
        person = record["principal"]
        return Principal(id=person["id"], role=Role(person["role"]), name=person["name"], email=person.get("email"),
                         vendor_id=person.get("vendor_id"))

    async def end(self, session_id: str) -> None:
        """End one session (sign out); ending an unknown one changes nothing."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return
        key = session_hash(session_id)
        record = await self.sessions.find_one_and_delete({"_id": key})
        if record is not None:
            await self.owners.find_one_and_update({"_id": record["principal"]["id"]},
                                                  {"$unset": {f"sessions.{key}": ""}})

    async def end_all(self, principal_id: str) -> int:
        """End every session of one person; return how many were live."""
        owner = await self.owners.find_one_and_delete({"_id": principal_id})
        ended = 0
        for key in (owner or {}).get("sessions", {}):
            ended += (await self.sessions.delete_one({"_id": key})).deleted_count
        return ended

    async def expire(self, now: datetime, limit: int = 500) -> int:
        """Delete the sessions that have expired by now; return how many."""
        deleted = 0
        for key in await self.expiry.due_keys(now, limit):
            record = await self.sessions.find_one({"_id": key})
            if record is not None and record["expires_at"] <= now:
                await self.sessions.delete_one({"_id": key})
                await self.owners.find_one_and_update({"_id": record["principal"]["id"]},
                                                      {"$unset": {f"sessions.{key}": ""}})
                deleted += 1
            await self.expiry.handled(key)
        return deleted
