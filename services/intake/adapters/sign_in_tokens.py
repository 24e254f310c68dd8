"""One-time sign-in links, single-use host tokens and sign-in rate counters, all read and written by `_id`.

`sign_in_tokens`: `_id` = SHA-256 of the link token (the token itself is only in the e-mail), the
address it was sent to, where to go after, when it expires and when it was used. Redeeming is one
conditional update (`used_at` absent and `expires_at` in the future, checked atomically by MongoDB
and by the docstore's write gate), so a link signs in once, however many tabs open it.
`sign_in_counters`: `_id` = `<kind>:<hashed subject>:<window>`, incremented atomically.
Expired records are deleted through a timing wheel (shared/schedule.py), so nothing scans.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.persistence import IndexSpec
from shared.schedule import Schedule

TOKENS = "sign_in_tokens"
COUNTERS = "sign_in_counters"
INDEXES: list[IndexSpec] = []
"""Read and written by _id only."""
MAX_TOKEN_LENGTH = 100
KEEP_USED = timedelta(days=1)
"""How long a used or expired link is remembered, so opening it again says what happened."""


def digest(value: str) -> str:
    """Return the SHA-256 hex digest under which a token, an address or a claim id is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class MongoSignInTokens:
    """Issue and redeem one-time links; remember single-use claims; count attempts per window."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.tokens = db[TOKENS]
        self.counters = db[COUNTERS]
        self.expiry = Schedule(db, TOKENS, bucket_seconds=600)
        self.counter_expiry = Schedule(db, COUNTERS, bucket_seconds=600)

    async def issue(self, email: str, next_path: str, now: datetime, expires_at: datetime) -> str:
        """Store a new link for email and return its token (put in the e-mail, never stored)."""
        token = secrets.token_urlsafe(32)
        key = digest(token)
        await self.expiry.add(key, expires_at + KEEP_USED, now)
        await self.tokens.insert_one({"_id": key, "kind": "link", "email": email, "next": next_path,
                                      "created_at": now, "expires_at": expires_at})
        return token

    async def peek(self, token: str) -> dict[str, Any] | None:
        """Return the stored link of a token (used or not), or None if there is none."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self.tokens.find_one({"_id": digest(token), "kind": "link"})

    async def redeem(self, token: str, now: datetime) -> dict[str, Any] | None:
        """Mark an unused, unexpired link used and return it; None if it is unknown, used or expired (atomic)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self.tokens.find_one_and_update(
            {"_id": digest(token), "kind": "link", "used_at": {"$exists": False}, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}}, return_document=ReturnDocument.AFTER)

    async def claim_once(self, claim_id: str, now: datetime, expires_at: datetime) -> bool:
        """Record a single-use claim (a host token's id); return False if it was claimed before."""
        key = "claim:" + digest(claim_id)
        await self.expiry.add(key, expires_at + KEEP_USED, now)
        try:
            await self.tokens.insert_one({"_id": key, "kind": "claim", "created_at": now, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    async def count(self, kind: str, subject: str, now: datetime, window: timedelta) -> int:
        """Add one attempt by subject in the current window of this kind; return the attempts in it so far."""
        start = int(now.timestamp() // window.total_seconds())
        key = f"{kind}:{digest(subject)}:{start}"
        window_end = datetime.fromtimestamp((start + 1) * window.total_seconds(), tz=now.tzinfo)
        counter = await self.counters.find_one_and_update(
            {"_id": key}, {"$inc": {"attempts": 1}, "$setOnInsert": {"expires_at": window_end}}, upsert=True,
            return_document=ReturnDocument.AFTER)
        if counter["attempts"] == 1:
            await self.counter_expiry.add(key, window_end, now)
        return int(counter["attempts"])

    async def expire(self, now: datetime, limit: int = 500) -> int:
        """Delete links, claims and counters past their time; return how many."""
        deleted = 0
        for schedule, collection in ((self.expiry, self.tokens), (self.counter_expiry, self.counters)):
            for key in await schedule.due_keys(now, limit):
                deleted += (await collection.delete_one({"_id": key})).deleted_count
                await schedule.handled(key)
        return deleted
