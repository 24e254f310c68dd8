"""The SMTP server of e-mail intake: aiosmtpd with a message size limit and a limit of sessions per IP address."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)


class SessionCounter:
    """Open SMTP sessions per peer IP address (one event loop, so no lock is needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: Counter[str] = Counter()

    def enter(self, ip: str) -> bool:
        """Count a new session from ip; return False (counting nothing) when ip is at its limit."""
        if self.open[ip] >= self.limit:
            return False
        self.open[ip] += 1
        return True

    def leave(self, ip: str) -> None:
        """Forget one session of ip."""
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]


class LimitedSMTP(SMTP):
    """An aiosmtpd SMTP session that greets with 421 and closes when its IP address has too many sessions open."""

    def __init__(self, handler: Any, *, sessions: SessionCounter, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._peer_ip: str | None = None
        self._turned_away = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve the session, or answer 421 and close when the peer's IP address is at its limit."""
        if self._peer_ip is None and not self._turned_away:  # not the second call of a STARTTLS upgrade
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "unknown"
            if not self._sessions.enter(ip):
                self._turned_away = True
                log.warning("SMTP session refused: too many from one address", extra={"x_peer": ip})
                transport.write(f"421 4.7.0 too many connections from {ip} (at most {self._sessions.limit} at "
                                "once); try again later\r\n".encode("ascii", "replace"))
                transport.close()
                return
            self._peer_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Release the session's place."""
        if self._turned_away:
            return
        if self._peer_ip is not None:
            self._sessions.leave(self._peer_ip)
            self._peer_ip = None
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        """A refused session has nothing to end."""
        if self._turned_away:
            return False
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        """A refused session reads nothing."""
        if not self._turned_away:
            super().data_received(data)


async def start_smtp(handler: Any, host: str, port: int, *, max_message_bytes: int,
                     max_sessions_per_ip: int, reuse_port: bool = False) -> asyncio.AbstractServer:
    """Bind the SMTP listener now (so a taken port fails start-up) and return the server.

    reuse_port: bind with SO_REUSEPORT, so every intake replica listens on the same port.
    """
    loop = asyncio.get_running_loop()
    sessions = SessionCounter(max_sessions_per_ip)
    server = await loop.create_server(
        lambda: LimitedSMTP(handler, sessions=sessions, data_size_limit=max_message_bytes, hostname="incidents",
                            ident="incidents intake"),
        host=host, port=port, reuse_port=reuse_port or None,
    )
    log.info("e-mail intake listening", extra={"x_host": host, "x_port": port})
    return server
