"""Attachments stored in the database as fixed-size chunks (GridFS-like, portable to the docstore)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase

from shared.persistence import IndexSpec

FILES = "attachments"
CHUNKS = "attachment_chunks"
CHUNK_BYTES = 255 * 1024
INDEXES = [IndexSpec(FILES, [("ticket_id", 1)]), IndexSpec(CHUNKS, [("file_id", 1), ("n", 1)], unique=True)]


class MongoAttachments:
    """Attachment metadata in `attachments`, bytes in `attachment_chunks`; complete files only are listed."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.files = db[FILES]
        self.chunks = db[CHUNKS]

    async def store(self, attachment_id: str, ticket_id: str, filename: str, content_type: str,
                    data: bytes, uploader_id: str, now: datetime) -> dict[str, Any]:
        """Write chunks first, then the metadata that makes the file visible; return the metadata."""
        for n, start in enumerate(range(0, max(len(data), 1), CHUNK_BYTES)):
            await self.chunks.insert_one(
                {"_id": f"{attachment_id}:{n}", "file_id": attachment_id, "n": n,
                 "data": Binary(data[start:start + CHUNK_BYTES])}
            )
        meta = {"_id": attachment_id, "ticket_id": ticket_id, "filename": filename, "content_type": content_type,
                "size": len(data), "uploaded_by": uploader_id, "uploaded_at": now}
        await self.files.insert_one(meta)
        return meta

    async def get(self, attachment_id: str) -> dict[str, Any] | None:
        """Return an attachment's metadata, if it exists."""
        return await self.files.find_one({"_id": attachment_id})

    async def for_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        """Return the metadata of every attachment of a ticket, oldest first."""
        return await self.files.find({"ticket_id": ticket_id}).sort("uploaded_at", 1).to_list()

    async def read(self, attachment_id: str) -> AsyncIterator[bytes]:
        """Yield the file's bytes chunk by chunk."""
        async for chunk in self.chunks.find({"file_id": attachment_id}).sort("n", 1):
            yield bytes(chunk["data"])
