"""SMTP connections kept open between messages, so a message costs one transaction, not a connection each.

A connection, its greeting, TLS and login cost several round trips and most of the notifier's
CPU per e-mail that is not rendering; mail servers keep a connection open for minutes between
transactions (RFC 5321 asks for at least five). A connection goes back to the idle set only after
a message it carried was accepted; an idle one is used for at most `max_idle_seconds`, and a message
whose reused connection turns out to be closed by the server is sent once more on a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib

STALE = (aiosmtplib.SMTPServerDisconnected, ConnectionError)
"""What a connection the server has closed while it sat idle raises on its next use."""


class SmtpConnections:
    """Sends messages over reused SMTP connections: at most `keep` idle at a time."""

    def __init__(self, connect: Callable[[], aiosmtplib.SMTP], *, keep: int = 4, max_idle_seconds: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._keep = keep
        self._max_idle = max_idle_seconds
        self._monotonic = monotonic
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self.opened = 0

    async def send(self, message: EmailMessage) -> None:
        """Send message; raises what aiosmtplib raises when the server refuses it or cannot be reached."""
        client = self._take_idle()
        if client is not None:
            try:
                await self._send_on(client, message)
                return
            except STALE:
                pass  # closed by the server while idle: the message was not taken, so send it on a new one
        client = self._connect()
        await client.connect()
        self.opened += 1
        await self._send_on(client, message)

    async def close(self) -> None:
        """Close the idle connections (politely; a server that is gone is not waited for)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()

    async def _send_on(self, client: aiosmtplib.SMTP, message: EmailMessage) -> None:
        """Send message on client and keep it for the next one; on any failure the connection is dropped."""
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        if len(self._idle) < self._keep and client.is_connected:
            self._idle.append((client, self._monotonic()))
        else:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        """Return the most recently used idle connection that is fresh enough, closing older ones."""
        now = self._monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if now - since <= self._max_idle and client.is_connected:
                return client
            client.close()
        return None
