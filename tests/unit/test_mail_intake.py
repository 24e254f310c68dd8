from email.message import EmailMessage

import pytest

from services.intake.domain.mail import parse_mail
from services.intake.entrypoints.mail_intake import SupportMailbox
from services.intake.settings import IntakeSettings
from shared.clock import FakeClock
from tests.fakes import FakeApiKeys, FakeTickets


def mail(subject, body="Body text", sender="Ada <ADA@example.com>"):
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = subject
    message.set_content(body)
    return parse_mail(message)


@pytest.mark.parametrize(
    ("subject", "title", "critical", "type_"),
    [
        ("CRITICAL: platform outage", "platform outage", True, "infrastructure"),
        ("[CRITICAL] Cannot login", "Cannot login", True, "access"),
        ("Re: RE: Slow dashboard", "Slow dashboard", False, "performance"),
        ("critical typo in docs", "critical typo in docs", False, "feature"),
        ("Suspicious activity on my account", "Suspicious activity on my account", False, "security"),
    ],
)
def test_subject_gives_title_severity_and_type(subject, title, critical, type_):
    parsed = mail(subject)
    assert (parsed.title(), parsed.critical, parsed.incident_type().value) == (title, critical, type_)
    assert parsed.sender == "ada@example.com" and parsed.sender_name == "Ada"


def test_reply_finds_the_ticket_number_and_drops_the_quote():
    parsed = mail("Re: [INC-000042] We received your report", "Here is more.\n\nOn Mon, Support wrote:\n> old")
    assert parsed.ticket_number("INC") == "INC-000042"
    assert parsed.body == "Here is more."
    assert mail("no number here").ticket_number("INC") is None


class _Envelope:
    def __init__(self, content):
        self.original_content = content
        self.content = content
        self.rcpt_tos = []


async def test_unknown_sender_is_bounced_when_configured():
    settings = IntakeSettings(unknown_senders="reject")
    box = SupportMailbox(settings=settings, tickets=FakeTickets(), api_keys=FakeApiKeys(), attachments=None,
                         clock=FakeClock())
    message = EmailMessage()
    message["From"] = "eve@example.com"
    message["Subject"] = "Help"
    message.set_content("x")
    reply = await box.handle_DATA(None, None, _Envelope(message.as_bytes()))
    assert reply.startswith("550") and "not a registered reporter" in reply
    assert (await box.handle_RCPT(None, None, _Envelope(b""), "sales@platform.local", [])).startswith("550")
