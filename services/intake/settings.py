"""Intake settings."""

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import SupportMailSettings


class IntakeSettings(SupportMailSettings):
    """Settings for the intake gateway (port 8080)."""

    http_port: int = 8080
    ticket_prefix: str = Field(default="INC", pattern=r"^[A-Z]{2,5}$")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    attachment_types: tuple[str, ...] = (
        "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
        "application/json", "application/pdf", "application/zip", "application/gzip",
    )
    rate_limit_per_minute: int = Field(default=600, ge=1, description="requests per API key per minute")
    rate_limit_burst: int = Field(default=100, ge=1, description="requests a key may send at once")
    auth_failures_per_minute: int = Field(
        default=60, ge=1, description="requests with a bad API key one address may send per minute before it waits")
    page_size_max: int = Field(default=100, ge=1, le=1000)
    smtp_intake_enabled: bool = True
    smtp_intake_host: str = "127.0.0.1"
    smtp_intake_port: int = Field(default=2525, ge=0, le=65535)
    unknown_senders: str = Field(default="create", pattern="^(create|reject)$",
                                 description="e-mail from an unknown address: create a reporter or bounce")
    mail_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=64 * 1024,
                                        description="largest e-mail accepted (SIZE; 552 above it)")
    mail_max_recipients: int = Field(default=10, ge=1, le=1000, description="recipients per message (452 above it)")
    mail_max_sessions_per_ip: int = Field(default=10, ge=1, le=10_000,
                                          description="concurrent SMTP sessions from one IP address (421 above it)")
    mail_max_attachments: int = Field(default=20, ge=0, le=1000,
                                      description="attachments per message (552 above it)")
    mail_dkim_domains: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="sender domains whose mail must carry a valid DKIM signature of that domain "
                                "(comma-separated), e.g. the organisation's own domain")
    mail_dkim_keys_file: Path | None = Field(
        default=None, description="YAML map of DKIM key records ('<selector>._domainkey.<domain>': 'v=DKIM1; ...') "
                                  "consulted before DNS, for internal domains DNS does not serve")
    work_in_flight_refresh_seconds: float = Field(default=15.0, gt=0,
                                                  description="how often open and at-risk tickets are recounted")
    history_start: date = Field(default=date(2020, 1, 1),
                                description="the oldest day lists and searches look back to")
    report_max_tickets: int = Field(default=100_000, ge=1,
                                    description="tickets one SLA report may read; a larger window is refused")

    @field_validator("mail_dkim_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: object) -> object:
        """Accept a comma-separated list from the environment; domains are compared in lower case."""
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        if isinstance(value, list | tuple):
            return tuple(part.strip().lower().rstrip(".") for part in value if part.strip())
        return value
