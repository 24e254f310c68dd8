"""E-mail to the support address through the real intake SMTP listener: who may act, retries, limits.

The notifier's real e-mails land in the SMTP sink; replies are taken from their Reply-To, as a mail
client would, and sent back over SMTP to the running intake.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage, Message
from email.utils import parseaddr

import aiosmtplib
import pytest
import yaml

from bench.system import wait_until
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e

SUPPORT = "support@platform.local"
ONCALL = "oncall@platform.local"
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_RECIPIENTS = 3
MAX_SESSIONS = 3
MAX_ATTACHMENTS = 3
TEAMS = ("service-desk", "technical-support", "senior-engineering", "vendor-management")


@pytest.fixture(scope="module")
def system_env(tmp_path_factory) -> dict[str, str]:
    """Every team's on-call is oncall@platform.local by e-mail (so pages land in the sink); small SMTP limits."""
    routing = {
        "version": 1,
        "contacts": {"oncall": {"name": "On-call", "email": ONCALL}},
        "teams": {team: {"on_call": ["oncall"]} for team in TEAMS},
        "routes": [{"message": "ticket_received", "to": "reporter", "channels": ["email"]},
                   {"message": "ticket_assigned", "to": "on_call", "channels": ["email"]},
                   {"message": "agent_comment", "to": "reporter", "channels": ["email"]}],
    }
    directory = tmp_path_factory.mktemp("mail-routing")
    (directory / "routing.yaml").write_text(yaml.safe_dump(routing))
    return {
        "NOTIFIER_ROUTING_FILE": str(directory / "routing.yaml"),
        "MAIL_REPLY_SECRET": "e2e-mail-reply-secret-0123456789abcdef",
        "MAIL_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "MAIL_MAX_RECIPIENTS": str(MAX_RECIPIENTS),
        "MAIL_MAX_SESSIONS_PER_IP": str(MAX_SESSIONS),
        "MAIL_MAX_ATTACHMENTS": str(MAX_ATTACHMENTS),
    }


@pytest.fixture(scope="module")
def agent(system) -> Api:
    """The on-call agent: an agent key with the on-call address."""
    return Api(system.url("intake"), system.create_key("agent", "Olga Oncall", ONCALL))


def compose(sender: str, subject: str, body: str, to: str = SUPPORT, attachments=(), message_id=None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    for name, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


async def send(system, sender: str, subject: str, body: str, to: str = SUPPORT, attachments=(), message_id=None) -> str:
    """Send over SMTP to `to` (the envelope recipient too); return intake's reply text."""
    message = compose(sender, subject, body, to, attachments, message_id)
    _, reply = await aiosmtplib.send(message, sender=parseaddr(sender)[1], recipients=[to], hostname="127.0.0.1",
                                     port=system.mail_intake_port)
    return reply


def find(api: Api, title: str, timeout: float = 30) -> list[dict]:
    return wait_until(lambda: api.get("/v1/tickets", params={"q": title}).json()["items"],
                      f"a ticket titled {title!r}", timeout)


def notification(mailbox, to: str, number: str, words: str) -> Message:
    """Return the notifier's e-mail to `to` about ticket `number` whose subject holds `words`."""
    box, _ = mailbox
    return box.wait_for(lambda m: parseaddr(str(m["To"]))[1].lower() == to.lower() and number in str(m["Subject"])
                        and words in str(m["Subject"]))


def reply_address(message: Message) -> str:
    reply_to = parseaddr(str(message["Reply-To"] or ""))[1]
    assert reply_to.startswith("support+") and reply_to.endswith("@platform.local"), message["Reply-To"]
    return reply_to


def actions(ticket: dict) -> list[str]:
    return [entry["action"] for entry in ticket["timeline"]]


async def test_an_email_report_is_unverified_and_its_critical_page_says_so(system, mailbox, agent):
    carol = Api(system.url("intake"), system.create_key("reporter", "Carol", "carol@example.com"))
    reply = await send(system, "Carol <carol@example.com>", "CRITICAL: login page down for everyone",
                       "Nobody can log in since 09:00.\nError 502.", attachments=[("trace.txt", "text/plain", b"stack")])
    assert "opened (unverified sender)" in reply
    [summary] = find(carol, "login page down")
    ticket = carol.ticket(summary["number"])
    assert ticket["reported_severity"] == "critical" and ticket["type"] == "access"
    assert ticket["reporter"]["verified"] is False
    assert any(e["action"] == "note" and "Unverified sender" in e["detail"] and "CRITICAL" in e["detail"]
               for e in ticket["timeline"])
    assert [a["filename"] for a in carol.get(f"/v1/tickets/{ticket['number']}/attachments").json()] == ["trace.txt"]
    page = notification(mailbox, ONCALL, ticket["number"], "New Critical ticket")
    assert "(unverified sender)" in str(page["Subject"])
    assert "unverified sender" in page.get_body(("plain",)).get_content()
    api_ticket = agent.report(title="Reported through the API", type="access")
    assert agent.ticket(api_ticket["number"])["reporter"]["verified"] is True


async def test_a_reply_to_our_email_comments_as_the_reporter_but_not_from_another_sender(system, mailbox):
    dora = Api(system.url("intake"), system.create_key("reporter", "Dora", "dora@example.com"))
    number = dora.report(title="Invoices missing")["number"]
    to = reply_address(notification(mailbox, "dora@example.com", number, "We received your report"))
    reply = await send(system, "Dora <dora@example.com>", f"Re: [{number}] We received your report",
                       "It works again on mobile.\n\nOn Mon, Support wrote:\n> quoted text", to=to)
    assert reply.startswith(f"OK comment added to {number}")
    timeline = dora.ticket(number)["timeline"]
    assert any(e["action"] == "commented" and e["detail"] == "It works again on mobile." and
               e["actor"]["type"] == "reporter" for e in timeline)

    stolen = await send(system, "mallory@example.com", f"Re: [{number}]", "Mallory was here", to=to)
    assert "opened (unverified sender)" in stolen
    assert "Mallory was here" not in str(dora.ticket(number)["timeline"])


async def test_attack_a_spoofed_agent_reply_neither_responds_nor_stops_the_clock(system, agent):
    erin = Api(system.url("intake"), system.create_key("reporter", "Erin", "erin@example.com"))
    number = erin.report(title="Payroll export broken")["number"]
    erin.wait_for(number, lambda t: t.get("severity") is not None)
    reply = await send(system, f"Olga Oncall <{ONCALL}>", f"Re: {number} Payroll export broken",
                       "Fixed, closing. Click http://evil.example/login to confirm.")
    assert "opened (unverified sender)" in reply and number not in reply.split("opened")[0]
    ticket = agent.ticket(number)
    assert "commented" not in actions(ticket) and ticket["first_response_at"] is None
    assert "evil.example" not in str(ticket["timeline"])


async def test_attack_a_spoofed_reporter_cannot_comment_on_their_ticket(system):
    fay = Api(system.url("intake"), system.create_key("reporter", "Fay", "fay@example.com"))
    number = fay.report(title="Cannot reach the VPN")["number"]
    reply = await send(system, "Fay <fay@example.com>", f"Re: [{number}] We received your report",
                       "Please close this, it was my mistake")
    assert "opened" in reply
    assert "commented" not in actions(fay.ticket(number))
    spoofed = [t for t in fay.get("/v1/tickets").json()["items"] if t["number"] != number]
    assert spoofed and all(fay.ticket(t["number"])["reporter"]["verified"] is False for t in spoofed)


async def test_the_agent_replies_to_its_page_as_itself(system, mailbox, agent):
    gus = Api(system.url("intake"), system.create_key("reporter", "Gus", "gus@example.com"))
    number = gus.report(title="Checkout times out", severity="critical", production=True)["number"]
    to = reply_address(notification(mailbox, ONCALL, number, "New"))
    reply = await send(system, f"Olga Oncall <{ONCALL}>", f"Re: {number}", "Looking into it now.", to=to)
    assert reply.startswith(f"OK comment added to {number}")
    ticket = agent.wait_for(number, lambda t: t["first_response_at"] is not None)
    [comment] = [e for e in ticket["timeline"] if e["action"] == "commented"]
    assert comment["actor"]["type"] == "agent" and comment["actor"]["name"] == "Olga Oncall"
    notification(mailbox, "gus@example.com", number, "New comment")


async def test_attack_a_retry_after_a_late_failure_opens_one_ticket(system):
    hal = Api(system.url("intake"), system.create_key("reporter", "Hal", "hal@example.com"))
    long_name = "x" * 300 + ".log"
    message = compose("hal@example.com", "Disk quota warnings", "See the log",
                      attachments=[(long_name, "text/plain", b"quota")], message_id="<retry-1@example.com>")
    raw = message.as_bytes()
    replies = []
    for _ in range(2):  # the same bytes twice, as an MTA retries
        _, reply = await aiosmtplib.send(raw, sender="hal@example.com", recipients=[SUPPORT], hostname="127.0.0.1",
                                         port=system.mail_intake_port)
        replies.append(reply)
    assert replies[0] == replies[1] and "opened" in replies[0]
    [ticket] = find(hal, "Disk quota warnings")
    assert ticket["number"] in replies[0]
    [attachment] = hal.get(f"/v1/tickets/{ticket['number']}/attachments").json()
    assert len(attachment["filename"]) == 255 and attachment["filename"].endswith(".log")


async def test_a_reply_longer_than_a_comment_is_kept_cut_with_the_whole_text_attached(system, mailbox):
    ida = Api(system.url("intake"), system.create_key("reporter", "Ida", "ida@example.com"))
    number = ida.report(title="Reports are empty")["number"]
    to = reply_address(notification(mailbox, "ida@example.com", number, "We received your report"))
    body = "All the log lines follow. " * 1500
    reply = await send(system, "ida@example.com", f"Re: [{number}]", body, to=to)
    assert reply.startswith(f"OK comment added to {number}")
    ticket = ida.ticket(number)
    [comment] = [e for e in ticket["timeline"] if e["action"] == "commented"]
    assert len(comment["detail"]) <= 20_000 and "message.txt" in comment["detail"]
    files = ida.get(f"/v1/tickets/{number}/attachments").json()
    assert [f["filename"] for f in files] == ["message.txt"] and files[0]["size"] == len(body.strip().encode())


async def test_a_message_over_the_size_limit_is_552(system):
    message = compose("jo@example.com", "Huge", "x" * (MAX_MESSAGE_BYTES + 1000))
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=system.mail_intake_port)
    assert refused.value.code == 552


async def test_recipients_over_the_limit_are_452_and_other_addresses_550(system):
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=system.mail_intake_port)
    await client.connect()
    try:
        await client.mail("jo@example.com")
        codes = [(await client.execute_command(f"RCPT TO:<support+{n}@platform.local>".encode())).code
                 for n in range(MAX_RECIPIENTS + 1)]
        assert codes == [250] * MAX_RECIPIENTS + [452]
        assert (await client.execute_command(b"RCPT TO:<sales@platform.local>")).code == 550
    finally:
        client.close()


async def test_attachments_over_the_limit_are_552(system):
    files = [(f"f{n}.txt", "text/plain", b"x") for n in range(MAX_ATTACHMENTS + 1)]
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(system, "jo@example.com", "Many files", "see attached", attachments=files)
    assert refused.value.code == 552 and f"at most {MAX_ATTACHMENTS}" in refused.value.message


async def test_sessions_over_the_limit_per_address_get_421_until_one_ends(system):
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=system.mail_intake_port) for _ in range(MAX_SESSIONS)]
    for client in clients:
        await client.connect()
    try:
        extra = aiosmtplib.SMTP(hostname="127.0.0.1", port=system.mail_intake_port)
        with pytest.raises(aiosmtplib.SMTPConnectResponseError) as refused:
            await extra.connect()
        assert refused.value.code == 421
        await clients.pop().quit()

        async def admitted() -> bool:
            again = aiosmtplib.SMTP(hostname="127.0.0.1", port=system.mail_intake_port)
            try:
                await again.connect()
            except aiosmtplib.SMTPConnectResponseError:
                return False
            await again.quit()
            return True

        for _ in range(100):  # the server learns of the closed session asynchronously
            if await admitted():
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("a session never became free after one ended")
    finally:
        for client in clients:
            client.close()


INTERNAL_ADDRESSES = ("user@platform.local", "ops@corp.test", "svc@build.internal", "kim@intranet.corp")


async def dead_letters(amqp_url: str) -> dict[str, int]:
    """Return how many messages wait in each consumer's dead-letter queue."""
    import aio_pika

    from shared.messaging.topology import CONSUMER_QUEUES

    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        counts = {}
        for spec in CONSUMER_QUEUES.values():
            queue = await channel.declare_queue(spec.dead_letter_queue, passive=True)
            counts[spec.dead_letter_queue] = queue.declaration_result.message_count
        return counts
    finally:
        await connection.close()


async def test_internal_domains_pass_every_way_in_without_a_5xx_or_a_dead_letter(system, mailbox, amqp_url):
    for address in INTERNAL_ADDRESSES:
        local = address.split("@")[0]
        reporter = Api(system.url("intake"), system.create_key("reporter", local.title(), address))  # CLI
        posted = reporter.post("/v1/tickets", {"title": f"API report from {local}", "type": "data",
                                               "description": "x"}, expect=201).json()           # API
        mailed = f"E-mail report from {local}"
        reply = await send(system, f"{local.title()} <{address}>", mailed, "by e-mail")        # e-mail intake
        assert "opened" in reply
        [by_mail] = find(reporter, mailed)
        for number in (posted["number"], by_mail["number"]):
            reporter.wait_for(number, lambda t: t.get("severity") is not None)                # contracts, triage
            notification(mailbox, address, number, "We received your report")                 # notifier
    assert set((await dead_letters(amqp_url)).values()) == {0}


def test_the_cli_refuses_what_is_not_an_address_and_says_why(system):
    import subprocess

    with pytest.raises(subprocess.CalledProcessError) as refused:
        system.cli("keys", "create", "--role", "reporter", "--name", "X", "--email", "x@@platform.local")
    assert refused.value.returncode == 2 and "before the @" in refused.value.stderr
