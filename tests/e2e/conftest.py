"""e2e fixtures: the four services as processes, and an SMTP sink collecting their mail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from pymongo import MongoClient

from shared.ids import new_id
from shared.mailsink import start_sink
from tests.e2e.system import System, free_port


class Mailbox:
    """The messages an SMTP sink stored, read back as parsed e-mails."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[Message]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(self.directory.glob("*.eml"))]

    def wait_for(self, predicate, timeout: float = 30) -> Message:
        """Return the first message matching predicate, polling until timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages():
                if predicate(message):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no matching e-mail within {timeout}s; have {[m['Subject'] for m in self.messages()]}")


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory) -> Iterator[tuple[Mailbox, int]]:
    directory = tmp_path_factory.mktemp("mail")
    port = free_port()
    controller = start_sink(directory, port=port)
    yield Mailbox(directory), port
    controller.stop()


@pytest.fixture(scope="module")
def system(amqp_url, mongodb_url, mailbox, tmp_path_factory) -> Iterator[System]:
    """The four services running against the real broker and database."""
    _, smtp_port = mailbox
    db_name = f"incidents_e2e_{new_id().lower()[-12:]}"
    system = System(amqp_url, mongodb_url, db_name, smtp_port, tmp_path_factory.mktemp("logs"))
    try:
        system.start_all()
        yield system
    finally:
        system.stop_all()
        with MongoClient(mongodb_url) as client:
            client.drop_database(db_name)
