"""Routing configuration: who gets which message on which channel, validated when loaded (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.notifier.domain.messages import KNOWN_MESSAGES, Notice
from services.notifier.domain.signing import SigningKey
from shared.contracts.addresses import EmailAddress


class Channel(StrEnum):
    """Delivery channels."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"


class Role(StrEnum):
    """Who a route addresses: the ticket's reporter, or a role in the ticket's team."""

    REPORTER = "reporter"
    ON_CALL = "on_call"
    LEAD = "lead"
    TEAM = "team"


REQUIRED_FORMATS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "txt"),
    Channel.WEBHOOK: ("txt",),
    Channel.SLACK: ("txt",),
}
"""Template formats each channel needs (`<message>.<channel>.<fmt>.j2`); email html and slack json are optional."""

_ID = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
_ENV = r"^[A-Z][A-Z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Strict):
    """An HTTP endpoint: a literal URL, or the name of an environment variable holding it (for secret URLs).

    A generic webhook endpoint signs with its own secret, read at start from the environment variable
    `secret_env` or the file `secret_file` (never written in this file); `key_id` names that key in
    the X-Incidents-Key-Id header (default: the endpoint's name).
    """

    url: str | None = Field(default=None, pattern=r"^https?://")
    url_env: str | None = Field(default=None, pattern=_ENV)
    secret_env: str | None = Field(default=None, pattern=_ENV)
    secret_file: str | None = Field(default=None, min_length=1, max_length=1000)
    key_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

    @model_validator(mode="after")
    def _one_source(self) -> Endpoint:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        if self.secret_env is not None and self.secret_file is not None:
            raise ValueError("give at most one of secret_env or secret_file")
        return self


class Contact(_Strict):
    """A person or team inbox, with an address per channel (webhook/slack name an endpoint)."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    webhook: str | None = None
    slack: str | None = None

    def address(self, channel: Channel) -> str | None:
        """Return this contact's address on a channel, or None."""
        return {Channel.EMAIL: self.email, Channel.WEBHOOK: self.webhook, Channel.SLACK: self.slack}[channel]


class Team(_Strict):
    """Which contacts fill each role of a team."""

    on_call: list[str] = Field(default_factory=list)
    lead: list[str] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)

    def contacts(self, role: Role) -> list[str]:
        """Return the contact ids for a team role."""
        return {Role.ON_CALL: self.on_call, Role.LEAD: self.lead, Role.TEAM: self.team}.get(role, [])


class Route(_Strict):
    """Send `message` to `to` on `channels`, optionally only for some teams, tiers or severities."""

    message: str
    to: Role
    channels: list[Channel] = Field(min_length=1)
    teams: list[str] | None = None
    tiers: list[int] | None = None
    severities: list[Literal["critical", "high", "medium", "low"]] | None = None

    def matches(self, message: str, notice: Notice) -> bool:
        """Return True if this route applies to the message for this notice."""
        return (
            self.message == message
            and (self.teams is None or notice.team in self.teams)
            and (self.tiers is None or notice.tier in self.tiers)
            and (self.severities is None or notice.severity in self.severities)
        )


class ReporterPreference(_Strict):
    """A reporter's own choice of channels (replacing a route's), endpoints, and messages they do not want."""

    channels: list[Channel] = Field(min_length=1)
    webhook: str | None = None
    slack: str | None = None
    mute: list[str] = Field(default_factory=list)


class RateLimit(_Strict):
    """At most one message per interval per (contact, channel); the rest wait and go out as one digest."""

    interval_seconds: float = Field(gt=0, le=86_400)

    @property
    def interval(self) -> timedelta:
        """Return the interval as a timedelta."""
        return timedelta(seconds=self.interval_seconds)


class RoutingConfig(_Strict):
    """The whole routing file."""

    version: Literal[1]
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)
    contacts: dict[str, Contact] = Field(default_factory=dict)
    teams: dict[str, Team] = Field(default_factory=dict)
    routes: list[Route] = Field(min_length=1)
    reporters: dict[str, ReporterPreference] = Field(default_factory=dict)
    rate_limits: dict[Channel, RateLimit] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_resolve(self) -> RoutingConfig:
        """Fail on any name that points at nothing, listing every problem at once."""
        problems: list[str] = []
        for name in self.endpoints:
            if not _valid_id(name):
                problems.append(f"endpoint name {name!r} must match {_ID}")
        for cid, contact in self.contacts.items():
            if not _valid_id(cid):
                problems.append(f"contact id {cid!r} must match {_ID}")
            for channel in (Channel.WEBHOOK, Channel.SLACK):
                ref = contact.address(channel)
                if ref is not None and ref not in self.endpoints:
                    problems.append(f"contacts.{cid}.{channel}: unknown endpoint {ref!r}")
        for tname, team in self.teams.items():
            for role in (Role.ON_CALL, Role.LEAD, Role.TEAM):
                for cid in team.contacts(role):
                    if cid not in self.contacts:
                        problems.append(f"teams.{tname}.{role}: unknown contact {cid!r}")
        for i, route in enumerate(self.routes):
            if route.message not in KNOWN_MESSAGES:
                problems.append(f"routes[{i}]: unknown message {route.message!r} (known: {sorted(KNOWN_MESSAGES)})")
            for tname in route.teams or []:
                if tname not in self.teams:
                    problems.append(f"routes[{i}]: unknown team {tname!r}")
        for key, pref in self.reporters.items():
            for channel in (Channel.WEBHOOK, Channel.SLACK):
                ref = getattr(pref, channel.value)
                if ref is not None and ref not in self.endpoints:
                    problems.append(f"reporters.{key}.{channel}: unknown endpoint {ref!r}")
            for message in pref.mute:
                if message not in KNOWN_MESSAGES:
                    problems.append(f"reporters.{key}.mute: unknown message {message!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def webhook_endpoints(self) -> set[str]:
        """Return the endpoints the generic webhook channel posts to (each signs with its own secret)."""
        named = {c.webhook for c in self.contacts.values()} | {p.webhook for p in self.reporters.values()}
        return {name for name in named if name is not None}

    def routed_pairs(self) -> set[tuple[str, Channel]]:
        """Return every (message, channel) some route or preference can produce, digests included."""
        pairs = {(route.message, channel) for route in self.routes for channel in route.channels}
        reporter_messages = {r.message for r in self.routes if r.to is Role.REPORTER}
        for pref in self.reporters.values():
            pairs |= {(m, c) for m in reporter_messages for c in pref.channels}
        pairs |= {("digest", channel) for channel in self.rate_limits}
        return pairs

    def missing_templates(self, has_template: Callable[[str, str, str], bool]) -> list[str]:
        """Return the template files that routed (message, channel) pairs need but that do not exist."""
        missing = []
        for message, channel in sorted(self.routed_pairs()):
            for fmt in REQUIRED_FORMATS[channel]:
                if not has_template(message, channel.value, fmt):
                    missing.append(f"{message}.{channel.value}.{fmt}.j2")
        return missing


def _valid_id(value: str) -> bool:
    import re

    return re.match(_ID, value) is not None


@dataclass(frozen=True)
class Recipient:
    """One resolved addressee: the recipient key in the delivery triple and where to send."""

    role: Role
    key: str
    name: str
    channel: Channel
    address: str


class Router:
    """Resolves messages to recipients; endpoint URLs and signing keys are resolved by the loader (None = not configured)."""

    def __init__(self, config: RoutingConfig, endpoint_urls: Mapping[str, str | None],
                 signing_keys: Mapping[str, SigningKey] | None = None) -> None:
        self.config = config
        self._urls = dict(endpoint_urls)
        self._keys = dict(signing_keys or {})

    def endpoint_url(self, name: str) -> str | None:
        """Return the URL of a configured endpoint, or None if it is unknown or not configured."""
        return self._urls.get(name)

    def signing_key(self, name: str) -> SigningKey | None:
        """Return the key a webhook endpoint's deliveries are signed with, or None if it has none."""
        return self._keys.get(name)

    def unsigned_webhook_endpoints(self) -> list[str]:
        """Return the configured webhook endpoints that have no signing key, sorted."""
        return sorted(name for name in self.config.webhook_endpoints()
                      if self.endpoint_url(name) is not None and name not in self._keys)

    def rate_limit(self, channel: str) -> RateLimit | None:
        """Return the per-contact rate limit of a channel, or None if unlimited."""
        try:
            return self.config.rate_limits.get(Channel(channel))
        except ValueError:
            return None

    def recipients(self, message: str, notice: Notice) -> list[Recipient]:
        """Return each distinct (recipient, channel) the message goes to for this notice."""
        found: dict[tuple[Channel, str], Recipient] = {}
        for route in self.config.routes:
            if not route.matches(message, notice):
                continue
            if route.to is Role.REPORTER:
                candidates = self._reporter(message, route, notice)
            elif notice.team_roles is not None and route.to.value not in notice.team_roles:
                continue  # the notice addresses other roles of the team (a page names one)
            else:
                candidates = self._team(route, notice)
            for recipient in candidates:
                found.setdefault((recipient.channel, recipient.key), recipient)
        for recipient in self._people(notice):
            found.setdefault((recipient.channel, recipient.key), recipient)
        return list(found.values())

    def _people(self, notice: Notice) -> list[Recipient]:
        """Return the people the notice names directly, on each channel they have an address for."""
        out = []
        for person in notice.people:
            role = Role(person.role) if person.role in Role._value2member_map_ else Role.ON_CALL
            key = f"person.{person.id}"
            if person.email:
                out.append(Recipient(role, key, person.name, Channel.EMAIL, person.email))
            for channel, endpoint in ((Channel.SLACK, person.slack), (Channel.WEBHOOK, person.webhook)):
                if endpoint is not None and self.endpoint_url(endpoint) is not None:
                    out.append(Recipient(role, key, person.name, channel, endpoint))
        return out

    def _reporter(self, message: str, route: Route, notice: Notice) -> list[Recipient]:
        reporter = notice.reporter
        if reporter is None:
            return []
        pref = self.config.reporters.get(reporter.id) or (
            self.config.reporters.get(reporter.email.lower()) if reporter.email else None
        )
        if pref is not None and message in pref.mute:
            return []
        channels = pref.channels if pref is not None else route.channels
        out = []
        for channel in channels:
            if channel is Channel.EMAIL:
                if reporter.email:
                    out.append(Recipient(Role.REPORTER, reporter.email.lower(), reporter.name, channel, reporter.email))
                continue
            endpoint = getattr(pref, channel.value) if pref is not None else None
            if endpoint is not None and self.endpoint_url(endpoint) is not None:
                out.append(Recipient(Role.REPORTER, f"reporter.{reporter.id}", reporter.name, channel, endpoint))
        return out

    def _team(self, route: Route, notice: Notice) -> list[Recipient]:
        team = self.config.teams.get(notice.team or "")
        if team is None:
            return []
        out = []
        for cid in team.contacts(route.to):
            contact = self.config.contacts[cid]
            for channel in route.channels:
                address = contact.address(channel)
                if address is None:
                    continue
                if channel is not Channel.EMAIL and self.endpoint_url(address) is None:
                    continue
                out.append(Recipient(route.to, cid, contact.name, channel, address))
        return out
