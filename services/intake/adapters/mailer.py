"""Intake's own outgoing mail (sign-in links): sent straight to the SMTP server, never through another service.

A sign-in link must not sit in another service's store (the notifier keeps every delivery), so
intake sends it itself, with the same SMTP settings the notifier uses.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib

from shared.settings import OutgoingMailSettings


class MailNotSent(Exception):
    """The SMTP server did not take the message; the text says why."""


class Mailer(Protocol):
    """Sends one e-mail now."""

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None: ...


class SmtpMailer:
    """Sends through the configured SMTP server."""

    def __init__(self, settings: OutgoingMailSettings) -> None:
        self._settings = settings

    def compose(self, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        """Return the message: plain text, with an HTML alternative when given."""
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._settings.mail_domain)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Hand the message to the SMTP server; raise MailNotSent if it does not take it."""
        s = self._settings
        try:
            await aiosmtplib.send(self.compose(to, subject, text, html), hostname=s.smtp_host, port=s.smtp_port,
                                  username=s.smtp_username, password=s.smtp_password, start_tls=s.smtp_starttls,
                                  timeout=s.smtp_timeout_seconds)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}") from exc
