"""Adding a file to a ticket: the bytes are stored first, then the ticket notes it and announces it."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from services.intake.adapters.attachments import TooManyAttachments
from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import TicketUpdate
from services.intake.service_layer.commands import perform_retrying
from shared.clock import Clock
from shared.contracts.lifecycle_events import Actor, TicketAttachmentAdded
from shared.ids import new_id

SAFE_FILENAME = r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,254}$"
"""File names kept as given; others are made safe (safe_filename) or, over the API, refused."""


class AttachmentRefused(Exception):
    """A file that is not kept; `status` is the HTTP status that says why (413 size, 415 type, 422 empty, 409 full)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """Return a file name of the safe alphabet: the last path part, other characters as `_`, at most 255."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9 ._()-]", "_", base).strip(" .")[:255]
    if not cleaned or not cleaned[0].isalnum():
        cleaned = (fallback + "-" + cleaned)[:255] if cleaned else fallback
    return cleaned


def attachment_refusal(content_type: str, size: int, *, allowed_types: Collection[str],
                       max_bytes: int) -> AttachmentRefused | None:
    """Return why a file of this type and size is not kept (None: it is), before anything is stored."""
    if content_type not in allowed_types:
        return AttachmentRefused(415, f"{content_type or 'no Content-Type'} is not accepted; use one of "
                                      f"{', '.join(allowed_types)}")
    if size == 0:
        return AttachmentRefused(422, "the attachment is empty")
    if size > max_bytes:
        return AttachmentRefused(413, f"attachments are limited to {max_bytes} bytes")
    return None


async def accept_attachment(ticket: dict[str, Any], actor: Actor, filename: str, content_type: str, data: bytes, *,
                            allowed_types: Collection[str], max_bytes: int, tickets: Tickets, attachments: Any,
                            clock: Clock) -> dict[str, Any]:
    """Store a file whose type, size and count are accepted and note it on the ticket; return its metadata.

    Raises AttachmentRefused naming what is wrong (nothing is stored then).
    """
    refusal = attachment_refusal(content_type, len(data), allowed_types=allowed_types, max_bytes=max_bytes)
    if refusal is not None:
        raise refusal
    try:
        return await add_attachment(ticket, actor, filename, content_type, data, tickets=tickets,
                                    attachments=attachments, clock=clock)
    except TooManyAttachments as exc:
        raise AttachmentRefused(409, str(exc)) from exc


async def add_attachment(ticket: dict[str, Any], actor: Actor, filename: str, content_type: str, data: bytes, *,
                         tickets: Tickets, attachments: Any, clock: Clock) -> dict[str, Any]:
    """Store the file, then note it on the ticket with ticket.attachment_added; return its metadata."""
    meta = await attachments.store(new_id(), ticket["_id"], filename, content_type, data, actor.id, clock.now())

    def attach(current: dict[str, Any], now: datetime) -> TicketUpdate:
        update = TicketUpdate(current, now)
        update.note(actor, "attachment_added", f"Attached {filename} ({len(data)} bytes)", attachment_id=meta["_id"])
        update.emit(TicketAttachmentAdded, actor, attachment_id=meta["_id"], filename=filename,
                    content_type=content_type, size=len(data))
        return update

    await perform_retrying(ticket, attach, tickets=tickets, clock=clock)
    return meta


async def note_refused_attachment(ticket: dict[str, Any], actor: Actor, filename: str, content_type: str, size: int,
                                  *, tickets: Tickets, clock: Clock) -> None:
    """Note on the ticket that a file was not kept (type or size not accepted)."""

    def refuse(current: dict[str, Any], now: datetime) -> TicketUpdate:
        update = TicketUpdate(current, now)
        update.note(actor, "attachment_refused", f"{filename} ({content_type}, {size} bytes) not kept")
        return update

    await perform_retrying(ticket, refuse, tickets=tickets, clock=clock)
