"""Adding a file to a ticket: the bytes are stored first, then the ticket notes it and announces it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.adapters.tickets import Tickets
from services.intake.domain.actions import TicketUpdate
from services.intake.service_layer.commands import perform_retrying
from shared.clock import Clock
from shared.contracts.lifecycle_events import Actor, TicketAttachmentAdded
from shared.ids import new_id


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
