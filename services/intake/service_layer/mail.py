"""E-mail intake's use case: do what an e-mail proved it may do, once per message.

A verified reply token acts on its ticket as the principal it was issued to: the ticket's reporter
comments on their own ticket; a member of staff comments as the agent or admin whose unrevoked key
has that address (a public comment: what their key could do, nothing more). Anything else opens a
new ticket as a reporter identity of the From address, marked verified only when a trusted DKIM
signature proved the domain. A receipt per message (adapters/mail_receipts.py) makes a retry answer
with what the first attempt did, and resume it where it stopped if it was cut short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.intake.adapters.api_keys import ApiKeys
from services.intake.adapters.attachments import TooManyAttachments
from services.intake.adapters.mail_receipts import DONE, MailReceipts
from services.intake.adapters.tickets import Tickets
from services.intake.domain import actions
from services.intake.domain.mail import IncomingMail, MailPart
from services.intake.domain.mail_trust import ActOnTicket, OpenTicket, Proof, Refuse, decide
from services.intake.domain.principals import Role
from services.intake.service_layer.attachments import add_attachment, note_refused_attachment
from services.intake.service_layer.commands import perform_retrying, report_ticket
from shared.clock import Clock
from shared.contracts.lifecycle_events import Actor
from shared.ids import new_id
from shared.mail_reply import Audience, ReplyGrant

RECEIPT_LEASE = timedelta(minutes=5)
"""How long one SMTP session holds a message before a retry may take it over (longer than any session lasts)."""


@dataclass(frozen=True)
class Part:
    """One file to attach: from the e-mail (type and size checked), or the whole text of a cut body (ours)."""

    mail_part: MailPart
    ours: bool = False


@dataclass
class MailIntake:
    """Accepts e-mails for the support address; every method returns the SMTP reply."""

    tickets: Tickets
    api_keys: ApiKeys
    attachments: Any
    receipts: MailReceipts
    clock: Clock
    ticket_prefix: str
    unknown_senders: str
    attachment_types: Sequence[str]
    max_attachment_bytes: int

    async def accept(self, mail: IncomingMail, proof: Proof, key: str) -> str:
        """Act on the e-mail once (a retry gets the first reply); raises ActionRefused when the action is not allowed."""
        decision = decide(mail, proof, self.ticket_prefix)
        if isinstance(decision, Refuse):
            return decision.reply
        if (isinstance(decision, OpenTicket) and self.unknown_senders == "reject"
                and await self.api_keys.find_by_email(mail.sender) is None):
            return f"550 5.7.1 {mail.sender} is not a registered reporter; ask support for access"
        now = self.clock.now()
        owner = new_id()
        ticket_id = decision.grant.ticket_id if isinstance(decision, ActOnTicket) else new_id()
        receipt = await self.receipts.begin(key, ticket_id=ticket_id, owner=owner, now=now,
                                            lease_until=now + RECEIPT_LEASE)
        if receipt is None:
            return "451 4.3.0 this message is being accepted in another session; please retry later"
        if receipt["state"] == DONE:
            return str(receipt["reply"])
        try:
            if isinstance(decision, ActOnTicket):
                reply = await self._reply(mail, decision.grant, receipt, key, owner)
            else:
                reply = await self._open(mail, decision, receipt, key, owner)
        except actions.ActionRefused:
            await self.receipts.abandon(key, owner)
            raise
        if reply.startswith("5"):
            await self.receipts.abandon(key, owner)
        else:
            await self.receipts.finish(key, owner, reply, self.clock.now())
        return reply

    async def _reply(self, mail: IncomingMail, grant: ReplyGrant, receipt: dict[str, Any], key: str,
                     owner: str) -> str:
        """Comment on the token's ticket as its principal, with the e-mail's attachments."""
        ticket = await self.tickets.get(grant.ticket_id)
        if ticket is None:
            return "550 5.1.1 the ticket of this reply address does not exist"
        actor = await self._actor(grant, ticket)
        if isinstance(actor, str):
            return actor
        clipped = mail.text("(empty reply)", self.max_attachment_bytes)
        ticket = await perform_retrying(
            ticket, lambda current, now: actions.comment(current, actor, now, clipped.text, False),
            tickets=self.tickets, clock=self.clock, once_key=f"mail:{key}")
        await self._attach(ticket, actor, _parts(mail, clipped.full_text), receipt, key, owner)
        return f"250 OK comment added to {ticket['number']}"

    async def _actor(self, grant: ReplyGrant, ticket: dict[str, Any]) -> Actor | str:
        """Return who the token's holder is on this ticket, or the 550 reply when nobody may act with it."""
        if grant.audience is Audience.REPORTER:
            reporter = ticket.get("reporter") or {}
            if str(reporter.get("email") or "").lower() != grant.address:
                return "550 5.7.1 this reply address was issued to another reporter"
            return Actor(type="reporter", id=reporter["id"], name=reporter["name"])
        principal = await self.api_keys.active_staff_by_email(grant.address)
        if principal is None:
            return (f"550 5.7.1 {grant.address} holds no active agent or admin key, so its replies cannot act on "
                    "tickets; answer on the ticket instead")
        return Actor(type=principal.role.value, id=principal.id, name=principal.name)

    async def _open(self, mail: IncomingMail, decision: OpenTicket, receipt: dict[str, Any], key: str,
                    owner: str) -> str:
        """Open the receipt's ticket (unless a cut-short attempt already did) as a reporter identity of the sender."""
        principal = (await self.api_keys.find_by_email(mail.sender, Role.REPORTER)
                     or await self.api_keys.register_reporter(mail.sender, mail.sender_name, self.clock.now()))
        clipped = mail.text("(empty e-mail)", self.max_attachment_bytes)
        document = await self.tickets.get(receipt["ticket_id"])
        if document is None:
            reporter = {**principal.as_reporter(), "verified": decision.verified}
            document = await report_ticket(mail.report_fields(clipped.text), reporter, tickets=self.tickets,
                                           clock=self.clock, prefix=self.ticket_prefix,
                                           ticket_id=receipt["ticket_id"], notes=decision.notes)
        actor = Actor(type="reporter", id=principal.id, name=principal.name)
        await self._attach(document, actor, _parts(mail, clipped.full_text), receipt, key, owner)
        unverified = "" if decision.verified else " (unverified sender)"
        return f"250 OK ticket {document['number']} opened{unverified}"

    async def _attach(self, ticket: dict[str, Any], actor: Actor, parts: list[Part], receipt: dict[str, Any],
                      key: str, owner: str) -> None:
        """Attach the parts a cut-short attempt did not, recording each one done."""
        for index in range(int(receipt.get("parts_done") or 0), len(parts)):
            await self._attach_one(ticket, actor, parts[index])
            await self.receipts.progress(key, owner, {"parts_done": index + 1})

    async def _attach_one(self, ticket: dict[str, Any], actor: Actor, part: Part) -> None:
        """Keep a file whose type and size are accepted (and the whole text of a cut body); note the others."""
        file = part.mail_part
        if part.ours or (file.content_type in self.attachment_types and len(file.data) <= self.max_attachment_bytes):
            try:
                await add_attachment(ticket, actor, file.filename, file.content_type, file.data,
                                     tickets=self.tickets, attachments=self.attachments, clock=self.clock)
                return
            except TooManyAttachments:
                pass
        await note_refused_attachment(ticket, actor, file.filename, file.content_type, len(file.data),
                                      tickets=self.tickets, clock=self.clock)


def _parts(mail: IncomingMail, full_text: MailPart | None) -> list[Part]:
    """Return the files to attach: the e-mail's, then the whole text when the body was cut."""
    return [Part(p) for p in mail.attachments] + ([Part(full_text, ours=True)] if full_text is not None else [])
