"""Attachments stored in the database as fixed-size chunks (GridFS-like, portable to the docstore).

Every read goes by `_id`: a file's metadata (`attachments`), its chunks (`attachment_chunks`,
`<id>:<n>`, counted from the size), and the list of a ticket's files (`attachment_lists`, `_id` =
ticket id), which is written after the file is complete, so only whole files are listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

from shared.persistence import IndexSpec

FILES = "attachments"
CHUNKS = "attachment_chunks"
LISTS = "attachment_lists"
CHUNK_BYTES = 255 * 1024
MAX_PER_TICKET = 200
INDEXES = [IndexSpec(FILES, [("ticket_id", 1)])]
"""For exports on MongoDB; the API reads a ticket's files from its list document."""


class TooManyAttachments(Exception):
    """The ticket has as many attachments as one ticket may hold."""


class MongoAttachments:
    """Attachment metadata in `attachments`, bytes in `attachment_chunks`, per-ticket lists in `attachment_lists`."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.files = db[FILES]
        self.chunks = db[CHUNKS]
        self.lists = db[LISTS]

    async def store(self, attachment_id: str, ticket_id: str, filename: str, content_type: str,
                    data: bytes, uploader_id: str, now: datetime) -> dict[str, Any]:
        """Write chunks first, then the metadata and the list entry that make the file visible; return the metadata."""
        listed = await self.lists.find_one({"_id": ticket_id})
        if len((listed or {}).get("items", [])) >= MAX_PER_TICKET:
            raise TooManyAttachments(f"a ticket holds at most {MAX_PER_TICKET} attachments")
        for n, start in enumerate(range(0, max(len(data), 1), CHUNK_BYTES)):
            await self.chunks.insert_one(
                {"_id": f"{attachment_id}:{n}", "file_id": attachment_id, "n": n,
                 "data": Binary(data[start:start + CHUNK_BYTES])}
            )
        meta = {"_id": attachment_id, "ticket_id": ticket_id, "filename": filename, "content_type": content_type,
                "size": len(data), "uploaded_by": uploader_id, "uploaded_at": now}
        await self.files.insert_one(meta)
        await self.lists.find_one_and_update({"_id": ticket_id}, {"$push": {"items": meta}}, upsert=True)
        return meta

    async def get(self, attachment_id: str) -> dict[str, Any] | None:
        """Return an attachment's metadata, if it exists."""
        return await self.files.find_one({"_id": attachment_id})

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        """Return the metadata of every attachment of a ticket, oldest first."""
        listed = await self.lists.find_one({"_id": ticket_id})
        return list((listed or {}).get("items", []))

    async def read(self, attachment_id: str) -> AsyncIterator[bytes]:
        """Yield the file's bytes chunk by chunk."""
        meta = await self.get(attachment_id)
        chunks = max(1, -(-int((meta or {}).get("size", 0)) // CHUNK_BYTES))
        for n in range(chunks):
            chunk = await self.chunks.find_one({"_id": f"{attachment_id}:{n}"})
            if chunk is not None:
                yield bytes(chunk["data"])
