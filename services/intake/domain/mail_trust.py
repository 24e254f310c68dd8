"""What an e-mail may do, given what it proves about its sender (pure).

A `From:` header proves nothing: anyone can write any address there. An e-mail proves who sent it by
 - a reply token (shared/mail_reply.py) in the address it was sent to, issued by the notifier to
   exactly this sender for exactly one ticket: the e-mail may then act on that ticket as the
   principal the token was issued to (the ticket's reporter, or a member of staff); and/or
 - a valid DKIM signature of the sender's domain, checked for the domains the operator lists
   (MAIL_DKIM_DOMAINS): mail from those domains that fails DKIM is refused outright.
An e-mail that proves nothing opens a new ticket as an unverified reporter and nothing else: it never
acts as staff and never changes an existing ticket, even one its subject names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.intake.domain.mail import IncomingMail
from shared.mail_reply import ReplyGrant


class Dkim(StrEnum):
    """The DKIM verdict on an e-mail's sender domain."""

    PASS = "pass"
    FAIL = "fail"
    UNAVAILABLE = "unavailable"
    """A key could not be read (DNS trouble): the sender may retry."""
    NOT_CHECKED = "not_checked"
    """The sender's domain is not one whose mail must pass DKIM."""


@dataclass(frozen=True)
class Proof:
    """What an e-mail proved about its sender."""

    grant: ReplyGrant | None = None
    token_problem: str | None = None
    """Why a reply token the e-mail was sent to did not verify (None when it carried none, or one verified)."""
    dkim: Dkim = Dkim.NOT_CHECKED
    dkim_problem: str | None = None


@dataclass(frozen=True)
class Refuse:
    """Refuse the e-mail with this SMTP reply."""

    reply: str


@dataclass(frozen=True)
class ActOnTicket:
    """The e-mail acts on the token's ticket as the token's principal (a comment and its attachments)."""

    grant: ReplyGrant


@dataclass(frozen=True)
class OpenTicket:
    """The e-mail opens a new ticket; `verified` says whether its reporter's identity is proven."""

    verified: bool
    notes: tuple[str, ...] = ()
    """Timeline notes saying what was not trusted, and why."""


Decision = Refuse | ActOnTicket | OpenTicket


def decide(mail: IncomingMail, proof: Proof, ticket_prefix: str) -> Decision:
    """Return what this e-mail may do."""
    if proof.dkim is Dkim.UNAVAILABLE:
        return Refuse(f"451 4.7.5 {proof.dkim_problem or 'the DKIM key could not be read'}; please retry")
    if proof.dkim is Dkim.FAIL:
        return Refuse(f"550 5.7.20 {proof.dkim_problem or 'no valid DKIM signature of the sender domain'}")
    if proof.grant is not None:
        return ActOnTicket(proof.grant)
    verified = proof.dkim is Dkim.PASS
    notes: list[str] = []
    if not verified:
        severity = " Its CRITICAL severity is honoured, from an unverified sender." if mail.critical else ""
        notes.append("Unverified sender: nothing in the e-mail proved who sent it (no reply address of ours, no "
                     f"trusted DKIM signature); {mail.sender} is only what the sender claimed.{severity}")
    if proof.token_problem:
        notes.append(f"The e-mail went to a reply address that did not verify ({proof.token_problem}), "
                     "so it was opened as a new ticket.")
    named = mail.ticket_number(ticket_prefix)
    if named is not None:
        notes.append(f"The e-mail names {named}, but only a reply to an e-mail about {named} may change it; "
                     "it was opened as a new ticket.")
    return OpenTicket(verified=verified, notes=tuple(notes))
