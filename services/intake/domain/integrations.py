"""Inbound integrations: named sources owned by a team, and how their words map to KB-005 (pure).

An integration is how monitoring and chat reach intake without an adapter of the user's own:
Prometheus Alertmanager webhooks, the PagerDuty Events API v2, and Slack. Each has its own
proof of identity (a key stored hashed, or Slack's signature), a severity mapping, a default
type and component, and rate limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.contracts import IncidentType, Severity
from shared.contracts.lifecycle_events import Actor


class Kind(StrEnum):
    """The protocols intake speaks to sources."""

    ALERTMANAGER = "alertmanager"
    EVENTS_V2 = "events-v2"
    SLACK = "slack"


SOURCE_SEVERITIES: dict[str, Severity] = {
    "critical": Severity.CRITICAL, "page": Severity.CRITICAL, "error": Severity.HIGH, "high": Severity.HIGH,
    "warning": Severity.MEDIUM, "medium": Severity.MEDIUM, "info": Severity.LOW, "low": Severity.LOW,
}
"""The default mapping of a source's severity words (Alertmanager `severity` label, Events API
`payload.severity`) to KB-005; critical, error, warning, info are the Events API's four."""

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ENV_PATTERN = re.compile(r"^SLACK_[A-Z0-9_]{1,60}$")
"""Slack secrets come from environment variables named SLACK_*, never from the database."""
CHANNEL_PATTERN = re.compile(r"^[CG][A-Z0-9]{2,20}$")
ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
SEVERITY_WORD = re.compile(r"^[a-z0-9_-]{1,30}$")


class InvalidIntegration(ValueError):
    """Options that do not make a usable integration; the message names the option."""


@dataclass(frozen=True)
class Integration:
    """One inbound source: its identity, owner, mapping to KB-005 and limits."""

    id: str
    kind: Kind
    name: str
    team: str
    severity_map: dict[str, Severity] = field(default_factory=lambda: dict(SOURCE_SEVERITIES))
    default_type: IncidentType = IncidentType.INFRASTRUCTURE
    component: str | None = None
    rate_per_minute: int = 1200
    burst: int = 300
    resolve_by_source: bool = True
    """Move the ticket to Resolved when the source resolves everything (else only note it)."""
    reopen_minutes: int = 60
    """A group that fires again this soon after it resolved reopens its ticket (Alertmanager)."""
    signing_secret_env: str | None = None
    bot_token_env: str | None = None
    critical_channel: str | None = None
    """Slack channel id (C…) of #critical-incidents: a mention there opens a Critical ticket (KB-005)."""
    revoked: bool = False
    created_at: datetime | None = None

    def severity_for(self, word: str | None) -> Severity | None:
        """Return the KB-005 severity a source's severity word maps to, or None if unmapped."""
        if not isinstance(word, str):
            return None
        return self.severity_map.get(word.strip().lower())

    @property
    def reporter(self) -> dict[str, Any]:
        """Return the reporter of tickets this integration opens (it has no e-mail: nobody is mailed as reporter)."""
        return {"id": f"integration:{self.id}", "name": f"{self.name} ({self.kind.value})", "email": None}

    @property
    def actor(self) -> Actor:
        """Return the actor of timeline entries and events this integration causes."""
        return Actor(type="system", id=f"integration:{self.id}", name=f"{self.name} ({self.kind.value})")

    def source(self) -> dict[str, Any]:
        """Return what a ticket records of the integration that opened it."""
        return {"kind": self.kind.value, "integration_id": self.id, "integration": self.name, "team": self.team}


def validate(integration: Integration, teams: set[str]) -> Integration:
    """Return the integration if its options make sense, else raise InvalidIntegration naming the option."""
    if not NAME_PATTERN.match(integration.name):
        raise InvalidIntegration("--name: 2-63 lower-case letters, digits and dashes, e.g. checkout-prometheus")
    if integration.team not in teams:
        raise InvalidIntegration(f"--team: {integration.team!r} is not a team of the service levels file "
                                 f"({', '.join(sorted(teams))})")
    if integration.component is not None and not 1 <= len(integration.component) <= 100:
        raise InvalidIntegration("--component: 1-100 characters")
    if not 1 <= integration.rate_per_minute <= 1_000_000 or not 1 <= integration.burst <= 100_000:
        raise InvalidIntegration("--rate-per-minute must be 1-1000000 and --burst 1-100000")
    if not 0 <= integration.reopen_minutes <= 7 * 24 * 60:
        raise InvalidIntegration("--reopen-minutes must be 0-10080 (a week)")
    for word in integration.severity_map:
        if not SEVERITY_WORD.match(word):
            raise InvalidIntegration(f"--severity-map: {word!r} is not a severity word (a-z, 0-9, _ and -)")
    slack_options = (integration.signing_secret_env, integration.bot_token_env, integration.critical_channel)
    if integration.kind is Kind.SLACK:
        for option, value in (("--signing-secret-env", integration.signing_secret_env),
                              ("--bot-token-env", integration.bot_token_env)):
            if value is not None and not ENV_PATTERN.match(value):
                raise InvalidIntegration(f"{option}: the name of an environment variable SLACK_[A-Z0-9_]+")
        if integration.signing_secret_env is None:
            raise InvalidIntegration("--signing-secret-env: Slack integrations verify requests with a signing secret")
        if integration.critical_channel is not None and not CHANNEL_PATTERN.match(integration.critical_channel):
            raise InvalidIntegration("--critical-channel: a Slack channel id such as C0123456789 (not its name)")
    elif any(value is not None for value in slack_options):
        raise InvalidIntegration("--signing-secret-env, --bot-token-env and --critical-channel are for --kind slack")
    return integration


def parse_severity_map(text: str | None) -> dict[str, Severity]:
    """Return the default mapping updated by 'word=severity,...' (severity: critical/high/medium/low)."""
    mapping = dict(SOURCE_SEVERITIES)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        word, sep, target = item.partition("=")
        try:
            if not sep:
                raise ValueError
            mapping[word.strip().lower()] = Severity(target.strip().lower())
        except ValueError:
            raise InvalidIntegration(f"--severity-map: {item!r} is not word=critical|high|medium|low") from None
    return mapping


def to_document(integration: Integration) -> dict[str, Any]:
    """Return the stored form of an integration (`_id` is its id; no secret is ever part of it)."""
    return {
        "_id": integration.id, "kind": integration.kind.value, "name": integration.name, "team": integration.team,
        "severity_map": {word: severity.value for word, severity in integration.severity_map.items()},
        "default_type": integration.default_type.value, "component": integration.component,
        "rate_per_minute": integration.rate_per_minute, "burst": integration.burst,
        "resolve_by_source": integration.resolve_by_source, "reopen_minutes": integration.reopen_minutes,
        "signing_secret_env": integration.signing_secret_env, "bot_token_env": integration.bot_token_env,
        "critical_channel": integration.critical_channel, "revoked": integration.revoked,
        "created_at": integration.created_at,
    }


def from_document(document: dict[str, Any]) -> Integration:
    """Return the integration a stored document describes."""
    return Integration(
        id=document["_id"], kind=Kind(document["kind"]), name=document["name"], team=document["team"],
        severity_map={word: Severity(value) for word, value in (document.get("severity_map") or {}).items()},
        default_type=IncidentType(document.get("default_type") or IncidentType.INFRASTRUCTURE.value),
        component=document.get("component"), rate_per_minute=int(document.get("rate_per_minute") or 1200),
        burst=int(document.get("burst") or 300), resolve_by_source=bool(document.get("resolve_by_source", True)),
        reopen_minutes=int(document.get("reopen_minutes", 60)),
        signing_secret_env=document.get("signing_secret_env"), bot_token_env=document.get("bot_token_env"),
        critical_channel=document.get("critical_channel"), revoked=bool(document.get("revoked")),
        created_at=document.get("created_at"),
    )
