"""E-mail intake: an SMTP listener for the support address that opens tickets or adds comments.

Limits (settings): message size (552), recipients per message (452), concurrent sessions per IP
address (421, entrypoints/smtp_server.py), attachments per message (552). The message is parsed
and its proofs checked (reply token, DKIM) in a worker thread, so a large message never stalls the
HTTP API sharing this event loop. What can never succeed is refused with a 5xx saying why; only
what a retry may cure (the database unreachable, a DNS failure) gets a 4xx.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from services.intake.adapters.dkim_verifier import DkimVerifier
from services.intake.adapters.mail_receipts import mail_key
from services.intake.domain.actions import ActionRefused
from services.intake.domain.mail import IncomingMail, UnreadableMail, read_mail
from services.intake.domain.mail_trust import Dkim, Proof
from services.intake.service_layer.mail import MailIntake
from services.intake.settings import IntakeSettings
from shared.mail_reply import InvalidReplyToken, is_support_address, token_of, verify_reply_token

log = logging.getLogger(__name__)
MAX_TOKENS_TRIED = 5
MAX_REPLY_CHARS = 480


class TooManyParts(ValueError):
    """The message has more attachments than one message may carry."""


@dataclass(frozen=True)
class Examined:
    """A parsed message, what it proves about its sender, and its receipt key."""

    mail: IncomingMail
    proof: Proof
    key: str


class SupportMailbox:
    """aiosmtpd handler: accepts mail for the support address (and its reply addresses) only."""

    def __init__(self, *, settings: IntakeSettings, intake: MailIntake, dkim: DkimVerifier) -> None:
        self.settings = settings
        self.intake = intake
        self.dkim = dkim

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        """Accept the support address and its sub-addresses, up to the recipient limit."""
        support = self.settings.support_address
        if not is_support_address(address, support):
            return smtp_reply(f"550 5.1.1 <{address}>: this server only accepts mail for {support}")
        if len(envelope.rcpt_tos) >= self.settings.mail_max_recipients:
            return f"452 4.5.3 too many recipients: at most {self.settings.mail_max_recipients} per message"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """Open a ticket or comment on one; the SMTP reply says which, or why not."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            examined = await asyncio.to_thread(self.examine, raw, tuple(envelope.rcpt_tos))
        except UnreadableMail as exc:
            return smtp_reply(f"550 5.6.0 {exc}")
        except TooManyParts as exc:
            return smtp_reply(f"552 5.3.4 {exc}")
        try:
            return smtp_reply(await self.intake.accept(examined.mail, examined.proof, examined.key))
        except ActionRefused as exc:
            return smtp_reply(f"550 5.7.1 {exc}")
        except ValidationError as exc:  # a value no limit above bounded: permanent, and a bug to fix
            log.exception("e-mail intake could not store a message")
            return smtp_reply(f"554 5.6.0 this message cannot be stored: {exc.errors()[0]['msg']}")
        except Exception:
            log.exception("e-mail intake failed")
            return "451 4.3.0 temporary failure; please retry"

    def examine(self, raw: bytes, recipients: tuple[str, ...]) -> Examined:
        """Parse the message and check its proofs (blocking: runs in a worker thread)."""
        mail = read_mail(raw)
        limit = self.settings.mail_max_attachments
        if len(mail.attachments) > limit:
            raise TooManyParts(f"too many attachments: {len(mail.attachments)}, at most {limit} per message")
        return Examined(mail, self.prove(mail, raw, recipients), mail_key(mail.message_id, mail.sender, raw))

    def prove(self, mail: IncomingMail, raw: bytes, recipients: tuple[str, ...]) -> Proof:
        """Return what the message proves: a reply token issued to its sender, and DKIM where it is required."""
        support = self.settings.support_address
        tokens = [t for address in (*recipients, *mail.addressed_to) if (t := token_of(address, support))]
        grant, token_problem = None, None
        for token in list(dict.fromkeys(tokens))[:MAX_TOKENS_TRIED]:
            try:
                grant = verify_reply_token(self.settings.reply_secret, token, mail.sender)
                break
            except InvalidReplyToken as exc:
                token_problem = str(exc)
        dkim, dkim_problem = Dkim.NOT_CHECKED, None
        if dkim_required(mail.sender_domain, self.settings.mail_dkim_domains):
            verdict = self.dkim.check(raw, mail.sender_domain)
            dkim = Dkim.PASS if verdict.passed else Dkim.UNAVAILABLE if verdict.temporary else Dkim.FAIL
            dkim_problem = verdict.problem
        return Proof(grant=grant, token_problem=None if grant else token_problem, dkim=dkim, dkim_problem=dkim_problem)


def dkim_required(domain: str, required: tuple[str, ...]) -> bool:
    """Return True when mail from this domain (or a subdomain of a listed one) must pass DKIM."""
    return any(domain == listed or domain.endswith("." + listed) for listed in required)


def smtp_reply(text: str) -> str:
    """Return an SMTP reply on one line of bounded length."""
    return " ".join(text.split())[:MAX_REPLY_CHARS]


async def close_on_cancel(server: Any) -> None:
    """Keep the server (or HTTP client) open until the task is cancelled, then close it."""
    try:
        await asyncio.Event().wait()
    finally:
        if hasattr(server, "aclose"):
            await server.aclose()
        else:
            server.close()
            await server.wait_closed()
