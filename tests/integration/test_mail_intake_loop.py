"""E-mail intake shares its event loop with the HTTP API: a large message is parsed off that loop.

The real intake app (HTTP API, SMTP listener, consumers) runs in this process against the real
broker and database. Parsing the message is held at a gate that only the answer of an HTTP request
opens: if the parse ran on the event loop, the loop could not answer that request while the gate is
closed, and the gate would give up (after a bound that only stops a broken build from hanging).
"""

from __future__ import annotations

import asyncio
import threading
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest
import uvicorn

from bench.system import free_port
from services.intake.adapters.api_keys import MongoApiKeys
from services.intake.bootstrap import build_app
from services.intake.domain import mail as mail_domain
from services.intake.domain.principals import Role
from services.intake.entrypoints import mail_intake
from services.intake.settings import IntakeSettings
from shared.clock import SystemClock

pytestmark = pytest.mark.integration
GATE_GIVES_UP_SECONDS = 60


def large_message(megabytes: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ada@example.com"
    message["To"] = "support@platform.local"
    message["Subject"] = "Full memory dump attached"
    message.set_content("The dump is attached.")
    message.add_attachment(bytes(range(256)) * (megabytes * 4096), maintype="application", subtype="octet-stream",
                           filename="dump.bin")
    return message


async def test_the_http_api_answers_while_a_large_message_is_parsed(amqp_url, mongodb_url, db_name, db, monkeypatch):
    parse_started, http_answered = threading.Event(), threading.Event()
    gate: dict[str, bool] = {}
    real_parse = mail_domain.parse_mail

    def gated_parse(message):
        parse_started.set()
        gate["opened_by_http"] = http_answered.wait(GATE_GIVES_UP_SECONDS)
        return real_parse(message)

    monkeypatch.setattr(mail_domain, "parse_mail", gated_parse)
    monkeypatch.setattr(mail_intake, "parse_mail", gated_parse, raising=False)  # where older code looked it up
    key, _ = await MongoApiKeys(db).create(Role.REPORTER, "Ada", "ada@example.com", SystemClock().now())
    settings = IntakeSettings(amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_db=db_name, environment="test",
                              http_port=free_port(), smtp_intake_port=free_port())
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=settings.http_port,
                                           log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{settings.http_port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            while not server.started:
                await asyncio.sleep(0.05)
            sending = asyncio.create_task(aiosmtplib.send(large_message(15), hostname="127.0.0.1",
                                                          port=settings.smtp_intake_port, timeout=300))
            assert await asyncio.to_thread(parse_started.wait, GATE_GIVES_UP_SECONDS), "the parse never started"
            response = await http.get("/v1/tickets")
            assert response.status_code == 200
            http_answered.set()
            _, reply = await sending
        assert gate["opened_by_http"] is True, "the HTTP request was answered only after the parse gave up"
        assert "opened" in reply
    finally:
        http_answered.set()
        server.should_exit = True
        await serving
