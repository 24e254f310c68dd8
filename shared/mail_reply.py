"""Reply addresses: the proof an e-mail reply carries of who may act on which ticket.

The notifier puts `Reply-To: <support local part>+<token>@<support domain>` into every e-mail it
sends about a ticket; intake lets a reply act on a ticket only when its token verifies. The token
is bound to the ticket, to whether it was sent to the reporter or to staff, and to the recipient's
address (which is not in the token: it is the reply's sender, so a token only works from the address
it was sent to). It is `1` (version), the audience letter, the ticket's ULID in lower case and an
HMAC-SHA256 tag truncated to 120 bits, all in characters that survive a mail system folding case:
verifying needs the secret and nothing else (no database read).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

VERSION = "1"
TAG_BYTES = 15
_TAG_CHARS = 24
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_TOKEN = re.compile(rf"^{VERSION}([rs])([0-9a-hjkmnp-tv-z]{{26}})([a-z2-7]{{{_TAG_CHARS}}})$")
_CONTEXT = b"incidents/mail-reply/1"


class Audience(StrEnum):
    """Who a reply token was issued to: the ticket's reporter, or a member of staff (team contact)."""

    REPORTER = "r"
    STAFF = "s"


class InvalidReplyToken(ValueError):
    """A reply token that is malformed, forged, or used from another address than the one it was sent to."""


@dataclass(frozen=True)
class ReplyGrant:
    """What a verified token allows: the sender at `address` replies about ticket `ticket_id` as `audience`."""

    ticket_id: str
    audience: Audience
    address: str


def _tag(secret: bytes, audience: Audience, ticket_id: str, address: str) -> str:
    message = b"\x00".join((_CONTEXT, audience.value.encode(), ticket_id.encode(), address.lower().encode("utf-8")))
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:TAG_BYTES]
    return base64.b32encode(digest).decode("ascii").lower()


def reply_token(secret: bytes, ticket_id: str, audience: Audience, address: str) -> str | None:
    """Return the token for one recipient of e-mails about one ticket, or None if the ticket id is not a ULID."""
    if not secret:
        raise ValueError("the reply secret is empty")
    if _ULID.match(ticket_id) is None:
        return None
    return f"{VERSION}{audience.value}{ticket_id.lower()}{_tag(secret, audience, ticket_id, address)}"


def verify_reply_token(secret: bytes, token: str, sender: str) -> ReplyGrant:
    """Return what the token grants when `sender` uses it; raise InvalidReplyToken saying why not."""
    if not secret:
        raise ValueError("the reply secret is empty")
    found = _TOKEN.match(token.lower())
    if found is None:
        raise InvalidReplyToken("the reply address is not one we issued")
    audience, ticket_id, tag = Audience(found.group(1)), found.group(2).upper(), found.group(3)
    if not hmac.compare_digest(tag, _tag(secret, audience, ticket_id, sender)):
        raise InvalidReplyToken("the reply address was not issued to this sender for this ticket")
    return ReplyGrant(ticket_id=ticket_id, audience=audience, address=sender.lower())


def reply_address(support_address: str, token: str) -> str:
    """Return the support address with the token as its sub-address: support+<token>@domain."""
    local, _, domain = support_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def token_of(address: str, support_address: str) -> str | None:
    """Return the token of a sub-address of the support address (case ignored), or None if it is not one."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    support_local, _, support_domain = support_address.rpartition("@")
    if not at or domain.lower() != support_domain.lower():
        return None
    base, plus, token = local.partition("+")
    if not plus or base.lower() != support_local.lower() or not token:
        return None
    return token


def is_support_address(address: str, support_address: str) -> bool:
    """Return True for the support address itself or any of its sub-addresses (support+anything@domain)."""
    return address.strip().strip("<>").lower() == support_address.lower() or token_of(address, support_address) is not None
