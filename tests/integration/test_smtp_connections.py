"""The notifier's e-mail sender keeps SMTP connections open between messages, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from services.notifier.adapters.email import SmtpEmailSender
from services.notifier.domain.deliveries import Content, Outgoing
from services.notifier.domain.retry import Outcome
from services.notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


class Recorder:
    """aiosmtpd handler: records each accepted message with the client port it came over; refuses `refused@`."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []
        self.servers: list = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's hook)
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.received.append((session.peer[1], envelope.content.decode()))
            self.servers.append(server)
        return "250 Message accepted"

    def connections(self) -> set[int]:
        with self.lock:
            return {port for port, _ in self.received}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, recorder
    controller.stop()


def outgoing(n: int, address: str = "ada@example.com") -> Outgoing:
    return Outgoing(delivery_id=f"d{n}", channel="email", address=address, message="ack",
                    content=Content(subject=f"message {n}", text=f"body {n}"))


def sender_for(controller: Controller) -> SmtpEmailSender:
    return SmtpEmailSender(NotifierSettings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False))


async def test_messages_in_a_row_share_one_connection(smtp):
    controller, recorder = smtp
    sender = sender_for(controller)
    results = [await sender.send(outgoing(n)) for n in range(5)]
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 5
    assert len(recorder.received) == 5 and len(recorder.connections()) == 1
    assert sender.connections.opened == 1
    await sender.connections.close()


async def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_message_sent_once(smtp):
    controller, recorder = smtp
    sender = sender_for(controller)
    await sender.send(outgoing(1))
    # the server hangs up; this thread's event loop has not seen it yet when the next message goes
    closed = threading.Event()
    controller.loop.call_soon_threadsafe(lambda: (recorder.servers[-1].transport.close(), closed.set()))
    assert closed.wait(5)
    time.sleep(0.2)
    result = await sender.send(outgoing(2))
    assert result.outcome == Outcome.DELIVERED
    assert [body.count("body 2") for _, body in recorder.received] == [0, 1]
    assert len(recorder.connections()) == 2 and sender.connections.opened == 2
    await sender.connections.close()


async def test_a_refused_message_is_permanent_and_the_next_one_still_goes(smtp):
    controller, recorder = smtp
    sender = sender_for(controller)
    refused = await sender.send(outgoing(1, "refused@example.com"))
    accepted = await sender.send(outgoing(2))
    assert refused.outcome == Outcome.PERMANENT and refused.status == 550
    assert accepted.outcome == Outcome.DELIVERED and len(recorder.received) == 1
    await sender.connections.close()


async def test_an_idle_connection_older_than_the_limit_is_not_used(smtp):
    controller, recorder = smtp
    sender = sender_for(controller)
    now = [0.0]
    sender.connections._monotonic = lambda: now[0]
    await sender.send(outgoing(1))
    now[0] += 31
    await sender.send(outgoing(2))
    assert len(recorder.connections()) == 2 and sender.connections.opened == 2
    await sender.connections.close()
