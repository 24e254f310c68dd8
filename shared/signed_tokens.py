"""Signed, tamper-evident tokens for links: claims in JSON, an HMAC-SHA256 over them, both base64url.

A token is bound to one purpose (an acknowledge link cannot be used as a calendar feed and the other way
round) and carries no secret: whoever holds it may do what it grants, so it is as valuable as what it
grants and should expire. Verification compares the MAC in constant time before reading any claim.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

MAX_TOKEN_LENGTH = 2048


class BadToken(ValueError):
    """A token that is malformed, not signed with our secret, or meant for something else."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: str) -> bytes:
    key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()  # one key per purpose
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()


def sign(purpose: str, claims: dict[str, Any], secret: str) -> str:
    """Return a URL-safe token carrying the claims, signed for one purpose."""
    if not secret:
        raise ValueError("no secret to sign with")
    body = _b64(json.dumps({**claims, "purpose": purpose}, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(secret, purpose, body))}"


def verify(token: str, purpose: str, secret: str) -> dict[str, Any]:
    """Return the claims of a token signed with this secret for this purpose; raise BadToken otherwise."""
    if not secret:
        raise BadToken("links are not configured here")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise BadToken("not a link token")
    body, mac = token.split(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise BadToken("not a link token") from None
    if not hmac.compare_digest(given, _mac(secret, purpose, body)):
        raise BadToken("the link is not valid (altered, or signed with another key)")
    try:
        claims = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadToken("not a link token") from None
    if not isinstance(claims, dict) or claims.get("purpose") != purpose:
        raise BadToken("the link is meant for something else")
    return claims
