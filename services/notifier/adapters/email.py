"""E-mail delivery over SMTP with aiosmtplib: text + HTML, threading headers keyed on the ticket."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notifier.adapters.smtp_connections import SmtpConnections
from services.notifier.domain.deliveries import Outgoing, message_id, thread_id
from services.notifier.domain.retry import (
    SendResult,
    classify_smtp,
    delivered,
    transient,
)
from services.notifier.domain.signing import DELIVERY_HEADER, IDEMPOTENCY_HEADER
from services.notifier.settings import NotifierSettings
from shared.mail_reply import Audience, reply_address, reply_token


def reply_to_for(outgoing: Outgoing, *, support_address: str, secret: bytes) -> str | None:
    """Return the reply address that proves a reply comes from this recipient about this ticket, if it has a ticket.

    Reporters get a reporter token, every other role (on-call, lead, team) a staff token; a digest
    covers several tickets and gets none.
    """
    if not outgoing.ticket_id:
        return None
    audience = Audience.REPORTER if outgoing.recipient_role == "reporter" else Audience.STAFF
    token = reply_token(secret, outgoing.ticket_id, audience, outgoing.address)
    return reply_address(support_address, token) if token else None


def compose(outgoing: Outgoing, *, sender: str, domain: str, reply_to: str | None = None) -> EmailMessage:
    """Return the e-mail for a delivery: stable Message-ID, replies threaded on the ticket, number in subject.

    With reply_to, replies go to that (signed, per-recipient) address: the only way a reply may act on the ticket.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outgoing.address
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = outgoing.content.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(outgoing.delivery_id, domain)
    if outgoing.ticket_id:
        root = thread_id(outgoing.ticket_id, domain)
        message["In-Reply-To"] = root
        message["References"] = root
    if outgoing.number:
        message["X-Ticket-Number"] = outgoing.number
    message[DELIVERY_HEADER] = outgoing.delivery_id
    message[IDEMPOTENCY_HEADER] = outgoing.idempotency_key
    message.set_content(outgoing.content.text)
    if outgoing.content.html is not None:
        message.add_alternative(outgoing.content.html, subtype="html")
    return message


class SmtpEmailSender:
    """Sends through the configured SMTP server, over connections kept open, and classifies the server's answer."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings
        self.connections = SmtpConnections(lambda: aiosmtplib.SMTP(
            hostname=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
            password=settings.smtp_password, start_tls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds))

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Return delivered once the server accepted the message; 5xx is permanent, the rest transient."""
        s = self._settings
        reply_to = reply_to_for(outgoing, support_address=s.support_address, secret=s.reply_secret)
        email = compose(outgoing, sender=s.mail_from, domain=s.mail_domain, reply_to=reply_to)
        try:
            await self.connections.send(email)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            if first is None:
                return transient(repr(exc))
            return classify_smtp(first.code, first.message)
        except aiosmtplib.SMTPResponseException as exc:
            return classify_smtp(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return transient(f"{type(exc).__name__}: {exc}")
        return delivered(250)
