"""Reporting by e-mail to the support address, through the real intake SMTP listener."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest

from bench.system import wait_until
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


async def send(system, sender: str, subject: str, body: str, to: str = "support@platform.local", attachment=None):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if attachment:
        message.add_attachment(attachment[2], maintype=attachment[1].split("/")[0],
                               subtype=attachment[1].split("/")[1], filename=attachment[0])
    return await aiosmtplib.send(message, hostname="127.0.0.1", port=system.mail_intake_port)


def find(api: Api, title: str, timeout: float = 30) -> dict:
    items = wait_until(lambda: api.get("/v1/tickets", params={"q": title}).json()["items"],
                       f"a ticket titled {title!r}", timeout)
    return items[0]


async def test_email_opens_a_critical_ticket_and_a_reply_comments_on_it(system):
    carol = Api(system.url("intake"), system.create_key("reporter", "Carol", "carol@example.com"))
    _, reply = await send(system, "Carol <carol@example.com>", "CRITICAL: login page down for everyone",
                          "Nobody can log in since 09:00.\nError 502.", attachment=("trace.txt", "text/plain", b"stack"))
    assert "opened" in reply
    ticket = find(carol, "login page down")
    assert ticket["reported_severity"] == "critical" and ticket["type"] == "access"
    assert ticket["title"] == "login page down for everyone"
    attachments = carol.get(f"/v1/tickets/{ticket['number']}/attachments").json()
    assert [a["filename"] for a in attachments] == ["trace.txt"]

    _, reply = await send(system, "carol@example.com", f"Re: [{ticket['number']}] We received your report",
                          "It works again on mobile.\n\nOn Mon, Support wrote:\n> quoted text")
    assert f"comment added to {ticket['number']}" in reply
    timeline = carol.ticket(ticket["number"])["timeline"]
    assert any(e["action"] == "commented" and e["detail"] == "It works again on mobile." for e in timeline)


async def test_unknown_sender_gets_a_reporter_identity_and_other_addresses_bounce(system):
    _, reply = await send(system, "Dan <dan@example.com>", "Reports are slow", "Takes a minute to load")
    assert "opened" in reply
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send(system, "dan@example.com", "hi", "x", to="sales@platform.local")
