"""E-mail delivery over SMTP with aiosmtplib."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib

from services.notifier.settings import NotifierSettings


class EmailSender(Protocol):
    """Sends one e-mail; raises on failure."""

    async def send(self, message: EmailMessage) -> None: ...


def compose(
    *, sender: str, recipient: str, subject: str, text: str, html: str | None, message_id: str, headers: dict[str, str]
) -> EmailMessage:
    """Return a plain-text e-mail with an optional HTML alternative and threading headers."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


class SmtpEmailSender:
    """Sends through the configured SMTP server."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Deliver the message to the SMTP server; returns once the server accepted it."""
        s = self._settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
