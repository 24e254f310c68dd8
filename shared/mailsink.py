"""A local SMTP sink (aiosmtpd) that stores every message as a .eml file, for development and tests."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.ids import new_id

log = logging.getLogger(__name__)


class FileStoringHandler:
    """aiosmtpd handler writing each accepted message to `<dir>/<ulid>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Store the message atomically (write then rename) and accept it."""
        name = new_id()
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.directory / f"{name}.eml")
        log.info("mail stored", extra={"x_file": f"{name}.eml", "x_rcpt": envelope.rcpt_tos})
        return "250 Message accepted for delivery"


def start_sink(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the sink in a background thread and return its controller (call .stop() to end it)."""
    controller = Controller(FileStoringHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


async def serve_forever(directory: Path, host: str, port: int) -> None:
    """Run the sink until cancelled."""
    controller = start_sink(directory, host, port)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()
