"""How people prove who they are to the web portal: a one-time link by e-mail, or a token signed by the host.

API keys stay for machines. A link is single use, expires (15 minutes by default), is stored only
as a hash and is sent by intake itself; asking for one gives the same answer, and takes the same
path through this function, whether or not the address may sign in (the lookup and the mail happen
afterwards, in the background). A host platform that already knows its user may instead sign a
short-lived HS256 token with the shared secret; each token id is accepted once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from pydantic import TypeAdapter, ValidationError

from services.intake.domain.principals import Principal, Role
from shared.clock import Clock
from shared.contracts import Reporter

log = logging.getLogger(__name__)
EMAIL = TypeAdapter(Reporter.model_fields["email"].annotation)
"""The address rule of the event contracts: an address the portal accepts can be on a ticket."""
HOST_TOKEN_AUDIENCE = "incidents-portal"
CLOCK_SKEW = timedelta(seconds=30)
WINDOW = timedelta(hours=1)

Compose = Callable[[str, int], tuple[str, str, str]]
"""Given the link and its lifetime in minutes, the e-mail's subject, text and HTML."""
Spawn = Callable[[Awaitable[Any]], Any]
"""Runs a coroutine in the background (the request does not wait for the mail)."""


@dataclass(frozen=True)
class SignInRules:
    """The settings sign-in follows."""

    portal_url: str
    link_lifetime: timedelta
    session_lifetime: timedelta
    per_address_per_hour: int
    per_ip_per_hour: int
    create_unknown: bool
    """UNKNOWN_SENDERS=create: an address nobody registered becomes a reporter (as in e-mail intake)."""
    host_secret: str
    host_token_max_age: timedelta


class TooManyRequests(Exception):
    """Too many sign-in requests from this address or client in the current hour."""


class LinkRefused(Exception):
    """A sign-in link that does not sign in; `why` is used, expired, unknown or no_access."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class HostTokenRefused(Exception):
    """A host token that proves nobody; the message says why (never the token)."""


def valid_email(value: str) -> str | None:
    """Return the address in canonical lower case if the event contracts accept it, else None."""
    if not value or len(value) > 254:
        return None
    try:
        return str(EMAIL.validate_python(value.strip())).lower()
    except ValidationError:
        return None


async def identity_for(email: str, *, api_keys: Any, create: bool, name: str | None, now: datetime) -> Principal | None:
    """Return who signs in with this address: their reporter identity, else their staff identity, else (when
    unknown addresses may) a new reporter; None for vendor-only or, with UNKNOWN_SENDERS=reject, unknown addresses."""
    reporter = await api_keys.find_by_email(email, Role.REPORTER)
    if reporter is not None:
        return reporter
    for role in (Role.ADMIN, Role.AGENT):
        staff = await api_keys.find_by_email(email, role)
        if staff is not None:
            return staff
    if not create or await api_keys.find_by_email(email, Role.VENDOR) is not None:
        return None
    return await api_keys.register_reporter(email, (name or email.split("@")[0])[:100], now)


async def may_sign_in(email: str, *, api_keys: Any, create: bool) -> bool:
    """Return True if this address would get a session (nothing is created here)."""
    for role in (Role.REPORTER, Role.ADMIN, Role.AGENT):
        if await api_keys.find_by_email(email, role) is not None:
            return True
    return create and await api_keys.find_by_email(email, Role.VENDOR) is None


async def request_link(email: str, next_path: str, client: str, *, tokens: Any, api_keys: Any, mailer: Any,
                       compose: Compose, rules: SignInRules, clock: Clock, spawn: Spawn) -> None:
    """Count the request against both limits, then send a link in the background if the address may sign in.

    Raises TooManyRequests past either limit. Returns the same way for every address.
    """
    now = clock.now()
    if await tokens.count("ip", client, now, WINDOW) > rules.per_ip_per_hour:
        raise TooManyRequests(f"too many sign-in requests from {client}; try again within the hour")
    if await tokens.count("address", email, now, WINDOW) > rules.per_address_per_hour:
        raise TooManyRequests("too many sign-in links were sent to this address; use the latest one or try again "
                              "within the hour")
    spawn(_send_link(email, next_path, tokens=tokens, api_keys=api_keys, mailer=mailer, compose=compose, rules=rules,
                     now=now))


async def _send_link(email: str, next_path: str, *, tokens: Any, api_keys: Any, mailer: Any, compose: Compose,
                     rules: SignInRules, now: datetime) -> bool:
    """Issue and mail a link if the address may sign in; return True if one was sent (failures are logged)."""
    try:
        if not await may_sign_in(email, api_keys=api_keys, create=rules.create_unknown):
            log.info("sign-in link not sent: the address may not sign in")
            return False
        token = await tokens.issue(email, next_path, now, now + rules.link_lifetime)
        minutes = int(rules.link_lifetime.total_seconds() // 60)
        subject, text, html = compose(f"{rules.portal_url}/sign-in/link?token={token}", minutes)
        await mailer.send(email, subject, text, html)
        return True
    except Exception:
        log.exception("sign-in link could not be sent")
        return False


async def redeem_link(token: str, *, tokens: Any, api_keys: Any, sessions: Any, rules: SignInRules,
                      clock: Clock) -> tuple[str, str, Principal]:
    """Use a link once: return (session id, where to go, who); raise LinkRefused if it is used, expired or unknown."""
    now = clock.now()
    record = await tokens.redeem(token, now)
    if record is None:
        known = await tokens.peek(token)
        raise LinkRefused("unknown" if known is None else "used" if known.get("used_at") else "expired")
    principal = await identity_for(record["email"], api_keys=api_keys, create=rules.create_unknown, name=None, now=now)
    if principal is None:
        raise LinkRefused("no_access")
    session_id = await sessions.create(principal, now, now + rules.session_lifetime, via="e-mail link")
    return session_id, record.get("next") or "/tickets", principal


@dataclass(frozen=True)
class HostClaims:
    """Who a host platform says its signed-in user is."""

    email: str
    name: str | None
    token_id: str
    expires_at: datetime


def verify_host_token(token: str, *, rules: SignInRules, now: datetime) -> HostClaims:
    """Return the claims of an HS256 token the host signed with the shared secret; raise HostTokenRefused if it is
    forged, expired, issued in the future, meant for another audience, lives longer than allowed or lacks a claim."""
    if not token or len(token) > 4096:
        raise HostTokenRefused("no token")
    try:
        claims = jwt.decode(token, rules.host_secret, algorithms=["HS256"], audience=HOST_TOKEN_AUDIENCE,
                            options={"require": ["exp", "iat", "jti", "aud", "email"], "verify_exp": False,
                                     "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError as exc:
        raise HostTokenRefused(f"the token is not valid: {type(exc).__name__}") from None
    try:
        issued = datetime.fromtimestamp(float(claims["iat"]), tz=now.tzinfo)
        expires = datetime.fromtimestamp(float(claims["exp"]), tz=now.tzinfo)
    except (TypeError, ValueError, OverflowError, OSError):
        raise HostTokenRefused("iat and exp must be numbers of seconds") from None
    if expires <= now - CLOCK_SKEW:
        raise HostTokenRefused("the token has expired")
    if issued > now + CLOCK_SKEW:
        raise HostTokenRefused("the token was issued in the future")
    if expires - issued > rules.host_token_max_age:
        raise HostTokenRefused(f"the token lives longer than {int(rules.host_token_max_age.total_seconds())} s")
    email = valid_email(str(claims["email"]))
    if email is None:
        raise HostTokenRefused("the token's email is not a valid address")
    token_id = str(claims["jti"])
    if not 8 <= len(token_id) <= 200:
        raise HostTokenRefused("jti must be 8 to 200 characters")
    name = claims.get("name")
    return HostClaims(email=email, name=str(name)[:100] if name else None, token_id=token_id, expires_at=expires)


async def host_sign_in(claims: HostClaims, *, tokens: Any, api_keys: Any, sessions: Any, rules: SignInRules,
                       clock: Clock) -> tuple[str, Principal]:
    """Start a session for the user a verified host token names (each token once); return (session id, who)."""
    now = clock.now()
    if not await tokens.claim_once(claims.token_id, now, claims.expires_at + CLOCK_SKEW):
        raise HostTokenRefused("this token was used before; the host page must sign a new one")
    principal = await identity_for(claims.email, api_keys=api_keys, create=rules.create_unknown, name=claims.name,
                                   now=now)
    if principal is None:
        raise HostTokenRefused("this address may not use the portal")
    return await sessions.create(principal, now, now + rules.session_lifetime, via="host token"), principal
