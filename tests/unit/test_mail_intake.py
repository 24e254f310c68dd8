from datetime import timedelta
from email.message import EmailMessage

import pytest

from services.intake.adapters.dkim_verifier import DkimVerifier
from services.intake.domain.actions import ActionRefused
from services.intake.domain.mail import (
    FULL_TEXT_FILENAME,
    MAX_FILENAME_CHARS,
    MAX_TEXT_CHARS,
    UnreadableMail,
    clip_text,
    parse_mail,
    read_mail,
    safe_filename,
)
from services.intake.domain.mail_trust import ActOnTicket, Dkim, OpenTicket, Proof, Refuse, decide
from services.intake.domain.principals import Role
from services.intake.entrypoints.mail_intake import SupportMailbox
from services.intake.service_layer.commands import report_ticket
from services.intake.service_layer.mail import RECEIPT_LEASE, MailIntake
from services.intake.settings import IntakeSettings
from shared.clock import FakeClock
from shared.mail_reply import Audience, ReplyGrant, reply_address, reply_token
from tests.fakes import FakeApiKeys, FakeAttachments, FakeMailReceipts, FakeTickets


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


def test_a_long_text_is_cut_with_a_note_and_kept_whole_as_an_attachment():
    text = "x" * (MAX_TEXT_CHARS + 5000)
    clipped = clip_text(text, attachment_limit=10 * 1024 * 1024)
    assert len(clipped.text) <= MAX_TEXT_CHARS and "Cut here" in clipped.text
    assert clipped.full_text.filename == FULL_TEXT_FILENAME and clipped.full_text.data == text.encode()
    too_big = clip_text(text, attachment_limit=1024)
    assert len(too_big.text) <= MAX_TEXT_CHARS and too_big.full_text is None and "larger than" in too_big.text
    assert clip_text("short", 1024).text == "short" and clip_text("short", 1024).full_text is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a" * 300 + ".log", "a" * (MAX_FILENAME_CHARS - 4) + ".log"),
        ("b" * 400, "b" * MAX_FILENAME_CHARS),
        ("../../etc/passwd", "passwd"),
        ("C:\\temp\\report (1).pdf", "report (1).pdf"),
        ("Bericht über Ärger.txt", "Bericht uber Arger.txt"),
        ("\r\nevil\x00name.png", "evil_name.png"),
        (".hidden", "hidden"),
        ("", "attachment"),
        (None, "attachment"),
    ],
)
def test_attachment_names_are_made_safe_and_short(raw, expected):
    assert safe_filename(raw) == expected


def test_a_message_with_two_from_headers_or_no_valid_sender_is_unreadable():
    raw = b"From: a@example.com\r\nFrom: b@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    with pytest.raises(UnreadableMail, match="exactly one From"):
        read_mail(raw)
    with pytest.raises(UnreadableMail, match="From address"):
        read_mail(b"From: not an address\r\nSubject: x\r\n\r\nbody\r\n")


def test_a_sender_name_is_one_bounded_line():
    parsed = mail("x", sender=f'"{"N" * 500}" <ada@platform.local>')
    assert parsed.sender_name == "N" * 200 and parsed.sender == "ada@platform.local"


# --- what an e-mail may do -------------------------------------------------------------------------

GRANT = ReplyGrant(ticket_id="01J00000000000000000000000", audience=Audience.STAFF, address="oncall@platform.local")


def test_an_email_that_proves_nothing_opens_an_unverified_ticket_even_when_it_names_one():
    decision = decide(mail("Re: INC-000001 CRITICAL it is fixed", sender="oncall@platform.local"), Proof(), "INC")
    assert isinstance(decision, OpenTicket) and decision.verified is False
    assert any("Unverified sender" in n and "CRITICAL" in n for n in decision.notes)
    assert any("INC-000001" in n for n in decision.notes)


def test_a_verified_token_acts_on_its_ticket_and_dkim_decides_the_rest():
    m = mail("anything")
    assert decide(m, Proof(grant=GRANT), "INC") == ActOnTicket(GRANT)
    assert isinstance(decide(m, Proof(grant=GRANT, dkim=Dkim.FAIL, dkim_problem="no"), "INC"), Refuse)
    assert decide(m, Proof(dkim=Dkim.FAIL, dkim_problem="no"), "INC").reply.startswith("550 5.7.20")
    assert decide(m, Proof(dkim=Dkim.UNAVAILABLE, dkim_problem="dns"), "INC").reply.startswith("451")
    verified = decide(m, Proof(dkim=Dkim.PASS), "INC")
    assert isinstance(verified, OpenTicket) and verified.verified and verified.notes == ()


# --- the use case, with fakes -------------------------------------------------------------------------


class World:
    def __init__(self, **settings):
        self.settings = IntakeSettings(**settings)
        self.clock = FakeClock()
        self.tickets = FakeTickets()
        self.api_keys = FakeApiKeys()
        self.attachments = FakeAttachments()
        self.receipts = FakeMailReceipts()
        self.intake = MailIntake(tickets=self.tickets, api_keys=self.api_keys, attachments=self.attachments,
                                 receipts=self.receipts, clock=self.clock, ticket_prefix="INC",
                                 unknown_senders=self.settings.unknown_senders,
                                 attachment_types=self.settings.attachment_types,
                                 max_attachment_bytes=self.settings.max_attachment_bytes)
        self.box = SupportMailbox(settings=self.settings, intake=self.intake, dkim=DkimVerifier({}))

    async def ticket(self, reporter_email="ada@example.com"):
        _, principal = await self.api_keys.create(Role.REPORTER, "Ada", reporter_email, self.clock.now())
        return await report_ticket({"title": "Checkout slow", "type": "performance", "description": "slow"},
                                   principal.as_reporter(), tickets=self.tickets, clock=self.clock, prefix="INC")

    def reply_to(self, ticket, audience, address):
        token = reply_token(self.settings.reply_secret, ticket["_id"], audience, address)
        return reply_address(self.settings.support_address, token)

    async def send(self, sender, subject, body="Body", to="support@platform.local", attachments=(), message_id=None):
        return await self.deliver(compose(sender, subject, body, to, attachments, message_id), to)

    async def deliver(self, raw, to="support@platform.local"):
        return await self.box.handle_DATA(None, None, _Envelope(raw, [to]))

    def tickets_of(self, email):
        return [t for t in self.tickets.documents.values() if t["reporter"]["email"] == email]


def compose(sender, subject, body="Body", to="support@platform.local", attachments=(), message_id=None):
    """Return the bytes of an e-mail (the same bytes are what an SMTP retry sends again)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    for name, data in attachments:
        message.add_attachment(data, maintype="text", subtype="plain", filename=name)
    return message.as_bytes()


class _Envelope:
    def __init__(self, content, rcpt_tos=()):
        self.original_content = content
        self.content = content
        self.rcpt_tos = list(rcpt_tos)


async def test_a_spoofed_agent_reply_never_touches_the_ticket_it_names():
    world = World()
    ticket = await world.ticket()
    await world.api_keys.create(Role.AGENT, "Oncall", "oncall@platform.local", world.clock.now())
    reply = await world.send("oncall@platform.local", f"Re: {ticket['number']} fixed", "it is fixed")
    assert reply.startswith("250") and "opened" in reply and "unverified" in reply
    assert world.tickets.documents[ticket["_id"]]["timeline"] == ticket["timeline"]
    opened = world.tickets_of("oncall@platform.local")
    assert len(opened) == 1 and opened[0]["reporter"]["verified"] is False
    assert opened[0]["_id"] != ticket["_id"]


async def test_a_reporter_token_comments_as_the_reporter_and_works_only_from_their_address():
    world = World()
    ticket = await world.ticket()
    to = world.reply_to(ticket, Audience.REPORTER, "ada@example.com")
    reply = await world.send("Ada <ada@example.com>", "Re: anything", "More detail", to=to)
    assert reply == f"250 OK comment added to {ticket['number']}"
    comment = world.tickets.documents[ticket["_id"]]["timeline"][-1]
    assert comment["action"] == "commented" and comment["actor"]["type"] == "reporter"
    stolen = await world.send("mallory@example.com", "Re: anything", "Mallory's text", to=to)
    assert "opened" in stolen and "Mallory's text" not in str(world.tickets.documents[ticket["_id"]]["timeline"])


async def test_a_staff_token_acts_as_the_agent_whose_active_key_has_the_address():
    world = World()
    ticket = await world.ticket()
    to = world.reply_to(ticket, Audience.STAFF, "oncall@platform.local")
    refused = await world.send("oncall@platform.local", "Re: page", "on it", to=to)
    assert refused.startswith("550 5.7.1") and "no active agent" in refused
    _, agent = await world.api_keys.create(Role.AGENT, "Olga Oncall", "oncall@platform.local", world.clock.now())
    reply = await world.send("oncall@platform.local", "Re: page", "on it", to=to)
    assert reply.startswith("250 OK comment added")
    stored = world.tickets.documents[ticket["_id"]]
    assert stored["timeline"][-1]["actor"] == {"type": "agent", "id": agent.id, "name": "Olga Oncall"}
    assert stored["first_response_at"] is not None


async def test_a_retried_message_opens_one_ticket_and_answers_the_same():
    world = World()
    args = ("Ada <ada@example.com>", "Printer on fire", "Flames")
    raw = compose(*args, message_id="<m1@example.com>")
    first = await world.deliver(raw)
    again = await world.deliver(raw)
    assert first == again and len(world.tickets_of("ada@example.com")) == 1
    other = await world.send(*args, message_id="<m2@example.com>")
    assert other != first and len(world.tickets_of("ada@example.com")) == 2


async def test_a_message_cut_short_after_its_ticket_was_stored_resumes_on_retry():
    world = World()
    world.attachments.fail_next = 1
    raw = compose("ada@example.com", "Logs attached", message_id="<m3@example.com>",
                  attachments=[("one.txt", b"1"), ("two.txt", b"2")])
    assert (await world.deliver(raw)).startswith("451")
    world.clock.advance(RECEIPT_LEASE + timedelta(seconds=1))
    reply = await world.deliver(raw)
    opened = world.tickets_of("ada@example.com")
    assert reply.startswith("250") and len(opened) == 1 and opened[0]["number"] in reply
    assert sorted(a["filename"] for a in world.attachments.of(opened[0]["_id"])) == ["one.txt", "two.txt"]


async def test_a_retry_while_the_first_session_still_holds_the_message_is_told_to_wait():
    world = World()
    world.attachments.fail_next = 1
    raw = compose("ada@example.com", "Logs", message_id="<m4@example.com>", attachments=[("a.txt", b"1")])
    assert (await world.deliver(raw)).startswith("451")
    assert "another session" in await world.deliver(raw)
    assert len(world.tickets_of("ada@example.com")) == 1


async def test_over_long_bodies_and_names_are_stored_by_the_stated_rule_not_refused_forever():
    world = World()
    ticket = await world.ticket()
    to = world.reply_to(ticket, Audience.REPORTER, "ada@example.com")
    body = "word " * 10_000
    reply = await world.send("ada@example.com", "Re: x", body, to=to, attachments=[("n" * 300 + ".txt", b"log")])
    assert reply.startswith("250 OK comment added")
    comment = [e for e in world.tickets.documents[ticket["_id"]]["timeline"] if e["action"] == "commented"][-1]
    assert len(comment["detail"]) <= MAX_TEXT_CHARS and "Cut here" in comment["detail"]
    names = sorted(a["filename"] for a in world.attachments.of(ticket["_id"]))
    assert names == sorted([FULL_TEXT_FILENAME, "n" * (MAX_FILENAME_CHARS - 4) + ".txt"])


async def test_a_reporter_reply_to_a_closed_ticket_is_refused_for_good():
    world = World()
    ticket = await world.ticket()
    world.tickets.documents[ticket["_id"]]["status"] = "closed"
    to = world.reply_to(ticket, Audience.REPORTER, "ada@example.com")
    with pytest.raises(ActionRefused):
        await world.intake.accept(*(await _examined(world, "ada@example.com", to)))
    reply = await world.send("ada@example.com", "Re: x", "hello", to=to)
    assert reply.startswith("550 5.7.1") and "closed" in reply and not world.receipts.documents


async def _examined(world, sender, to):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: x"
    message.set_content("hello")
    examined = world.box.examine(message.as_bytes(), (to,))
    return examined.mail, examined.proof, examined.key


async def test_unknown_sender_is_bounced_when_configured():
    world = World(unknown_senders="reject")
    reply = await world.send("eve@example.com", "Help", "x")
    assert reply.startswith("550") and "not a registered reporter" in reply
    assert (await world.box.handle_RCPT(None, None, _Envelope(b""), "sales@platform.local", [])).startswith("550")


async def test_recipients_and_attachments_per_message_are_limited():
    world = World(mail_max_recipients=2, mail_max_attachments=1)
    envelope = _Envelope(b"")
    answers = [await world.box.handle_RCPT(None, None, envelope, f"support+{n}@platform.local", []) for n in range(3)]
    assert answers[:2] == ["250 OK", "250 OK"] and answers[2].startswith("452 4.5.3")
    reply = await world.send("ada@example.com", "Files", attachments=[("a.txt", b"1"), ("b.txt", b"2")])
    assert reply.startswith("552 5.3.4") and "at most 1" in reply and not world.tickets.documents


async def test_unreadable_mail_is_refused_permanently():
    world = World()
    reply = await world.box.handle_DATA(None, None, _Envelope(b"From: nobody\r\nSubject: x\r\n\r\nhi\r\n"))
    assert reply.startswith("550 5.6.0")


# --- DKIM --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key():
    from tests.dkim_keys import make_dkim_key

    return make_dkim_key()


def _no_dns(name, timeout=5):
    raise RuntimeError("DNS is not reachable")


def _raw(sender="oncall@platform.local", body="hello"):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Message-ID"] = (
        sender, "support@platform.local", "hi", "<d1@platform.local>")
    message.set_content(body)
    return message.as_bytes()


def test_dkim_passes_only_a_whole_aligned_signature_that_verifies(dkim_key):
    verifier = DkimVerifier({"test._domainkey.platform.local": dkim_key.record}, dns=_no_dns)
    signed = dkim_key.sign(_raw(), "platform.local")
    assert verifier.check(signed, "platform.local").passed
    assert verifier.check(dkim_key.sign(_raw(sender="x@eu.platform.local"), "platform.local"), "eu.platform.local").passed
    tampered = verifier.check(signed.replace(b"hello", b"HELLO"), "platform.local")
    assert not tampered.passed and not tampered.temporary
    assert "carries none" in verifier.check(_raw(), "platform.local").problem
    assert "not of other.org" in verifier.check(signed, "other.org").problem
    assert "l=" in verifier.check(dkim_key.sign(_raw(), "platform.local", length=True), "platform.local").problem
    unreadable = verifier.check(dkim_key.sign(_raw(), "platform.local", selector="unknown"), "platform.local")
    assert not unreadable.passed and unreadable.temporary


async def test_mail_from_a_dkim_domain_must_pass_and_a_pass_verifies_the_reporter(dkim_key):
    world = World(mail_dkim_domains="platform.local")
    world.box.dkim = DkimVerifier({"test._domainkey.platform.local": dkim_key.record}, dns=_no_dns)
    ticket = await world.ticket()
    to = world.reply_to(ticket, Audience.STAFF, "oncall@platform.local")
    await world.api_keys.create(Role.AGENT, "Olga", "oncall@platform.local", world.clock.now())
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "oncall@platform.local", to, "Re: page"
    message.set_content("on it")
    unsigned = await world.box.handle_DATA(None, None, _Envelope(message.as_bytes(), [to]))
    assert unsigned.startswith("550 5.7.20")
    signed = dkim_key.sign(message.as_bytes(), "platform.local")
    assert (await world.box.handle_DATA(None, None, _Envelope(signed, [to]))).startswith("250 OK comment added")
    new = dkim_key.sign(_raw(sender="lead@platform.local"), "platform.local")
    assert "unverified" not in await world.box.handle_DATA(None, None, _Envelope(new))
    assert world.tickets_of("lead@platform.local")[0]["reporter"]["verified"] is True
