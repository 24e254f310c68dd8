"""Receipts of accepted e-mails, so a retried message answers with what the first one did (`mail_receipts`).

One small document per message, keyed by `_id` = a hash of its Message-ID, sender and body
(mail_key): a session claims it with a lease before acting, records its progress (the ticket it
opened, the parts attached) and finally the SMTP reply. A retry of a finished message gets that
reply again; a retry of one cut short resumes it where it stopped; every read and write is by `_id`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.documents import update_if

COLLECTION = "mail_receipts"
ACCEPTING = "accepting"
DONE = "done"


def mail_key(message_id: str | None, sender: str, raw: bytes) -> str:
    """Return the receipt id of a message: its Message-ID, sender and body (headers added on the way do not count)."""
    body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
    digest = hashlib.sha256()
    for part in ((message_id or "").encode("utf-8", "replace"), sender.lower().encode("utf-8"),
                 hashlib.sha256(body).digest()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class MailReceipts(Protocol):
    """Where intake remembers the e-mails it accepted."""

    async def begin(self, key: str, *, ticket_id: str, owner: str, now: datetime,
                    lease_until: datetime) -> dict[str, Any] | None: ...

    async def progress(self, key: str, owner: str, fields: dict[str, Any]) -> bool: ...

    async def finish(self, key: str, owner: str, reply: str, now: datetime) -> bool: ...

    async def abandon(self, key: str, owner: str) -> None: ...


class MongoMailReceipts:
    """Receipts in MongoDB (or the docstore): every read and write by `_id`, claims guarded atomically."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._receipts = db[COLLECTION]

    async def begin(self, key: str, *, ticket_id: str, owner: str, now: datetime,
                    lease_until: datetime) -> dict[str, Any] | None:
        """Return the message's receipt held by owner (new or resumed), a finished one, or None while another holds it."""
        document = {"_id": key, "state": ACCEPTING, "ticket_id": ticket_id, "owner": owner,
                    "lease_until": lease_until, "parts_done": 0, "created_at": now, "rev": 0}
        try:
            await self._receipts.insert_one(document)
            return document
        except DuplicateKeyError:
            pass
        existing = await self._receipts.find_one({"_id": key})
        if existing is None or existing["state"] == DONE:
            return existing
        return await update_if(self._receipts, key, {"state": ACCEPTING, "lease_until": {"$lt": now}},
                               {"$set": {"owner": owner, "lease_until": lease_until}})

    async def progress(self, key: str, owner: str, fields: dict[str, Any]) -> bool:
        """Record how far the owner got; False if it lost the receipt."""
        return await update_if(self._receipts, key, {"owner": owner, "state": ACCEPTING}, {"$set": fields}) is not None

    async def finish(self, key: str, owner: str, reply: str, now: datetime) -> bool:
        """Record the SMTP reply every retry of this message gets from now on."""
        return await update_if(self._receipts, key, {"owner": owner, "state": ACCEPTING},
                               {"$set": {"state": DONE, "reply": reply, "finished_at": now}}) is not None

    async def abandon(self, key: str, owner: str) -> None:
        """Forget a receipt whose message changed nothing (it was refused), so a later attempt starts afresh."""
        await self._receipts.delete_one({"_id": key, "owner": owner, "state": ACCEPTING})
