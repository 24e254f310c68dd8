"""One-click acknowledge links in pages: signed for one ticket, page, step and person, expiring, used once.

The notifier signs a link per person and channel when it renders a page; intake verifies it at
`/ack/<token>` (GET shows what would be acknowledged, POST acknowledges). Single use is kept by intake in
the ticket itself: the acknowledgement and the token's id are written in one conditional write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.ids import new_id
from shared.signed_tokens import BadToken, sign, verify

PURPOSE = "page-ack"
ACK_PATH = "/ack/"


class ExpiredLink(BadToken):
    """A well-signed link past its expiry."""


@dataclass(frozen=True)
class AckGrant:
    """What a link lets its holder do: acknowledge page `page_id` of a ticket as `person` (`name`), until expiry."""

    token_id: str
    ticket_id: str
    number: str
    page_id: str
    step: str | None
    person: str
    name: str
    expires_at: datetime


def issue(grant: AckGrant, secret: str) -> str:
    """Return the token of a grant."""
    return sign(PURPOSE, {"jti": grant.token_id, "tid": grant.ticket_id, "num": grant.number, "pid": grant.page_id,
                          "step": grant.step, "sub": grant.person, "name": grant.name,
                          "exp": int(grant.expires_at.timestamp())}, secret)


def read(token: str, secret: str, now: datetime) -> AckGrant:
    """Return the grant of a valid token; raise BadToken (ExpiredLink once expired)."""
    claims = verify(token, PURPOSE, secret)
    try:
        grant = AckGrant(token_id=str(claims["jti"]), ticket_id=str(claims["tid"]), number=str(claims["num"]),
                         page_id=str(claims["pid"]), step=None if claims.get("step") is None else str(claims["step"]),
                         person=str(claims["sub"]), name=str(claims["name"]),
                         expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise BadToken("not a link token") from None
    if grant.expires_at <= now:
        raise ExpiredLink(f"the link expired at {grant.expires_at.strftime('%Y-%m-%d %H:%M UTC')}")
    return grant


@dataclass(frozen=True)
class AckLinks:
    """Makes acknowledge links for intake's public address."""

    base_url: str
    secret: str
    ttl: timedelta

    def url(self, *, ticket_id: str, number: str, page_id: str, step: str | None, person: str, name: str,
            now: datetime) -> str:
        """Return a new link (its own token id) that acknowledges the page as this person until now + ttl."""
        grant = AckGrant(new_id(), ticket_id, number, page_id, step, person, name, now + self.ttl)
        return f"{self.base_url.rstrip('/')}{ACK_PATH}{issue(grant, self.secret)}"
