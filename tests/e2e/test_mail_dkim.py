"""DKIM for the organisation's own domain, through the real intake: unsigned mail claiming it is refused."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest
import yaml

from bench.system import wait_until
from tests.dkim_keys import make_dkim_key
from tests.e2e.api import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dkim_key():
    return make_dkim_key()


@pytest.fixture(scope="module")
def system_env(tmp_path_factory, dkim_key) -> dict[str, str]:
    """Mail from platform.local must pass DKIM; its key is pinned in a file (no DNS serves platform.local)."""
    path = tmp_path_factory.mktemp("dkim") / "dkim-keys.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "keys": {"test._domainkey.platform.local": dkim_key.record}}))
    return {"MAIL_DKIM_DOMAINS": "platform.local", "MAIL_DKIM_KEYS_FILE": str(path)}


def message(sender: str, subject: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = sender, "support@platform.local", subject, \
        f"<{subject.replace(' ', '-')}@platform.local>"
    mail.set_content("The build farm is down.")
    return mail.as_bytes()


async def deliver(system, raw: bytes, sender: str) -> str:
    _, reply = await aiosmtplib.send(raw, sender=sender, recipients=["support@platform.local"], hostname="127.0.0.1",
                                     port=system.mail_intake_port)
    return reply


async def test_attack_unsigned_mail_claiming_the_own_domain_is_refused(system):
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await deliver(system, message("ceo@platform.local", "CRITICAL wire the money"), "ceo@platform.local")
    assert refused.value.code == 550 and "DKIM" in refused.value.message


async def test_signed_mail_of_the_own_domain_opens_a_verified_ticket(system, dkim_key):
    raw = dkim_key.sign(message("lead@platform.local", "Build farm down"), "platform.local")
    reply = await deliver(system, raw, "lead@platform.local")
    assert "opened" in reply and "unverified" not in reply
    staff = Api(system.url("intake"), system.create_key("agent", "Agent", "agent@example.com"))
    [summary] = wait_until(lambda: staff.get("/v1/tickets", params={"q": "Build farm down"}).json()["items"],
                           "the ticket")
    assert staff.ticket(summary["number"])["reporter"]["verified"] is True
    tampered = raw.replace(b"The build farm is down.", b"The build farm is fine.")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await deliver(system, tampered, "lead@platform.local")
    assert refused.value.code == 550
