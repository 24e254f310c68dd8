"""Typed settings every service shares, read from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.addresses import EmailAddress
from shared.messaging.urls import split_amqp_urls

PLACEHOLDER_MARKERS = ("guest:guest@", "changeme", "change-me", "example.invalid", "dev-only")
MIN_SECRET_LENGTH = 16
S = TypeVar("S", bound="CommonSettings")


class CommonSettings(BaseSettings):
    """Connection and runtime settings; env names are the upper-case field names (AMQP_URL, ...)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    """One node's URL, or every node of a cluster comma-separated (tried in order; see shared.messaging.urls)."""
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str = Field(default="incidents", pattern=r"^[A-Za-z0-9_-]{1,60}$")
    http_host: str = "127.0.0.1"
    reuse_port: bool = Field(default=False, description=(
        "bind the HTTP listener (and intake's SMTP listener) with SO_REUSEPORT, so several replicas of a "
        "service share its ports and the kernel spreads connections over them (`make up REPLICAS=2`)"))
    replicas: int = Field(default=1, ge=1, le=99, description=(
        "how many processes of this service run (`make up REPLICAS=N` sets it); intake enforces this share of "
        "its per-key, per-integration and failed-sign-in limits, so together the replicas allow the configured rate"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    amqp_prefetch: int = Field(default=100, ge=1, le=1000)
    delivery_limit: int = Field(default=5, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    service_levels_file: Path | None = Field(
        default=None, description="teams per tier, SLA allowances and business calendar (default: packaged KB-005)")
    intake_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://",
                            description="where intake answers `GET /v1/me`: the other services ask it who holds an "
                                        "API key (intake owns identities)")

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields of a service's settings that hold secrets: production refuses them empty, short or defaulted."""

    @field_validator("amqp_url")
    @classmethod
    def _amqp_urls(cls, value: str) -> str:
        """Accept one AMQP URL or several comma-separated ones reaching the same vhost as the same user."""
        split_amqp_urls(value)
        return value

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> CommonSettings:
        """Refuse to start in production with default, placeholder or missing credentials; name them, never their values."""
        if self.environment == "production":
            problems = production_problems(self)
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


class OutgoingMailSettings(CommonSettings):
    """How a service sends e-mail (the notifier's messages, intake's sign-in links): one SMTP server for all."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "Support <support@platform.local>"
    mail_domain: str = "platform.local"


def production_problems(settings: CommonSettings) -> list[str]:
    """Return what production refuses in these settings, each naming the setting and never its value."""
    problems = []
    for name in ("amqp_url", "mongodb_url"):
        if any(marker in getattr(settings, name) for marker in PLACEHOLDER_MARKERS):
            problems.append(f"{name.upper()} holds a placeholder credential")
    nodes = [urlsplit(url) for url in split_amqp_urls(settings.amqp_url)]
    if any(not amqp.username or amqp.username == "guest" or not amqp.password for amqp in nodes):
        problems.append("AMQP_URL must name the services' own RabbitMQ user and its password (not guest)")
    mongo = urlsplit(settings.mongodb_url)
    if not mongo.username and "MONGODB-X509" not in mongo.query.upper():
        problems.append("MONGODB_URL has no credentials: the database must require authentication")
    for name in settings.SECRET_FIELDS:
        value = getattr(settings, name) or ""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        default = type(settings).model_fields[name].default
        if len(value) < MIN_SECRET_LENGTH or value == default or any(m in value for m in PLACEHOLDER_MARKERS):
            problems.append(f"{name.upper()} must be set to a secret of at least {MIN_SECRET_LENGTH} characters "
                            "(not its development default)")
    return problems


class SettingsError(SystemExit):
    """Settings that cannot be used; the message names each setting and what is wrong, never a value."""


def load_settings(settings_class: type[S]) -> S:
    """Return the settings read from the environment, or raise SettingsError without echoing any value."""
    try:
        return settings_class()
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            where = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            lines.append(f"  {where}: {error['msg']}")
        raise SettingsError(f"invalid {settings_class.__name__}:\n" + "\n".join(lines)) from None


DEVELOPMENT_MAIL_REPLY_SECRET = "development-only-mail-reply-secret-not-for-production"
"""Used when MAIL_REPLY_SECRET is unset outside production, so a checkout runs as it is."""
MIN_MAIL_REPLY_SECRET = 32


class SupportMailSettings(CommonSettings):
    """What intake and notifier share about support e-mail: the address and the key of reply tokens."""

    support_address: EmailAddress = "support@platform.local"
    """The address reporters write to; replies go to its sub-addresses support+<token>@domain."""
    mail_reply_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key of reply tokens (shared/mail_reply.py); the same value in notifier and intake. A secret."""

    @model_validator(mode="after")
    def _reply_secret(self) -> SupportMailSettings:
        """Fill the development secret outside production; in production demand a real one."""
        secret = self.mail_reply_secret.get_secret_value()
        if not secret:
            if self.environment == "production":
                raise ValueError("MAIL_REPLY_SECRET must be set in production (the same value in intake and notifier)")
            self.mail_reply_secret = SecretStr(DEVELOPMENT_MAIL_REPLY_SECRET)
        elif self.environment == "production" and (
                len(secret) < MIN_MAIL_REPLY_SECRET or secret == DEVELOPMENT_MAIL_REPLY_SECRET):
            raise ValueError(f"MAIL_REPLY_SECRET must be at least {MIN_MAIL_REPLY_SECRET} random characters "
                             "in production, not the development value")
        return self

    @property
    def reply_secret(self) -> bytes:
        """Return the reply token key as bytes."""
        return self.mail_reply_secret.get_secret_value().encode("utf-8")
