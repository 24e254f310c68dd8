"""E-mail intake: an SMTP listener for the support address that opens tickets or adds comments."""

from __future__ import annotations

import asyncio
import logging
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.intake.adapters.attachments import TooManyAttachments
from services.intake.domain import actions
from services.intake.domain.actions import ActionRefused
from services.intake.domain.mail import IncomingMail, parse_mail
from services.intake.service_layer.attachments import (
    add_attachment,
    note_refused_attachment,
)
from services.intake.service_layer.commands import (
    perform_retrying,
    report_ticket,
)
from services.intake.settings import IntakeSettings
from shared.clock import Clock
from shared.contracts.lifecycle_events import Actor

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class SupportMailbox:
    """aiosmtpd handler: accepts mail for the support address only, answers 550 with the reason when refusing."""

    def __init__(self, *, settings: IntakeSettings, tickets: Any, api_keys: Any, attachments: Any, clock: Clock) -> None:
        self.settings = settings
        self.tickets = tickets
        self.api_keys = api_keys
        self.attachments = attachments
        self.clock = clock

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        """Accept only the support address."""
        if address.lower() != self.settings.support_address.lower():
            return f"550 5.1.1 <{address}>: this server only accepts mail for {self.settings.support_address}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Open a ticket or comment on one; the SMTP reply says which, or why not."""
        try:
            message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            mail = parse_mail(message)
        except Exception as exc:  # a message we cannot parse is refused, not half-stored
            return f"550 5.6.0 cannot read this message: {exc}"[:500]
        if "@" not in mail.sender:
            return "550 5.1.7 the From address is missing or invalid"
        try:
            return await self._accept(mail)
        except ActionRefused as exc:
            return f"550 5.7.1 {exc}"
        except Exception:
            log.exception("e-mail intake failed")
            return "451 4.3.0 temporary failure; please retry"

    async def _accept(self, mail: IncomingMail) -> str:
        principal = await self.api_keys.find_by_email(mail.sender)
        if principal is None:
            if self.settings.unknown_senders == "reject":
                return f"550 5.7.1 {mail.sender} is not a registered reporter; ask support for access"
            principal = await self.api_keys.register_reporter(mail.sender, mail.sender_name, self.clock.now())
        actor = Actor(type=principal.role.value, id=principal.id, name=principal.name)
        number = mail.ticket_number(self.settings.ticket_prefix)
        if number is not None:
            ticket = await self.tickets.by_number(number)
            if ticket is not None and principal.may_see(ticket):
                await self._comment(ticket, actor, mail)
                return f"250 OK comment added to {number}"
        document = await report_ticket(mail.report_fields(), principal.as_reporter(), tickets=self.tickets,
                                       clock=self.clock, prefix=self.settings.ticket_prefix)
        await self._attach(document, actor, mail)
        return f"250 OK ticket {document['number']} opened"

    async def _comment(self, ticket: dict[str, Any], actor: Actor, mail: IncomingMail) -> None:
        body = mail.body or "(empty reply)"
        ticket = await perform_retrying(ticket, lambda current, now: actions.comment(current, actor, now, body, False),
                                        tickets=self.tickets, clock=self.clock)
        await self._attach(ticket, actor, mail)

    async def _attach(self, ticket: dict[str, Any], actor: Actor, mail: IncomingMail) -> None:
        """Keep the attachments whose type and size are accepted; note the others on the timeline."""
        settings = self.settings
        for part in mail.attachments:
            if part.content_type in settings.attachment_types and len(part.data) <= settings.max_attachment_bytes:
                try:
                    await add_attachment(ticket, actor, part.filename, part.content_type, part.data,
                                         tickets=self.tickets, attachments=self.attachments, clock=self.clock)
                    continue
                except TooManyAttachments:
                    pass
            await note_refused_attachment(ticket, actor, part.filename, part.content_type, len(part.data),
                                          tickets=self.tickets, clock=self.clock)


async def start_mailbox(mailbox: SupportMailbox, host: str, port: int) -> asyncio.AbstractServer:
    """Bind the SMTP listener now (so a taken port fails start-up) and return the server."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(mailbox, data_size_limit=MAX_MESSAGE_BYTES, hostname="incidents", ident="incidents intake"),
        host=host, port=port,
    )
    log.info("e-mail intake listening", extra={"x_host": host, "x_port": port})
    return server


async def close_on_cancel(server: asyncio.AbstractServer) -> None:
    """Keep the server open until the task is cancelled, then close it."""
    try:
        await asyncio.Event().wait()
    finally:
        server.close()
        await server.wait_closed()
