"""Intake settings."""

from datetime import date

from pydantic import Field

from shared.settings import CommonSettings


class IntakeSettings(CommonSettings):
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
    support_address: str = "support@platform.local"
    unknown_senders: str = Field(default="create", pattern="^(create|reject)$",
                                 description="e-mail from an unknown address: create a reporter or bounce")
    work_in_flight_refresh_seconds: float = Field(default=15.0, gt=0,
                                                  description="how often open and at-risk tickets are recounted")
    history_start: date = Field(default=date(2020, 1, 1),
                                description="the oldest day lists and searches look back to")
    portal_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^\s]+$",
                            description="intake's public base URL: integration URLs and links to tickets "
                                        "(<PORTAL_URL>/tickets/<number>)")
    integration_max_in_flight: int = Field(
        default=32, ge=1, le=10_000,
        description="most inbound integration requests worked on at once; more are told to retry (Retry-After)")
    integration_latency_target_seconds: float = Field(
        default=0.1, gt=0, le=10,
        description="the in-flight limit shrinks while inbound requests take longer than this, and grows back")
    slack_api_url: str = Field(default="https://slack.com/api", pattern=r"^https?://[^\s]+$",
                               description="Slack's Web API, for answering mentions (chat.postMessage)")
    report_max_tickets: int = Field(default=100_000, ge=1,
                                    description="tickets one SLA report may read; a larger window is refused")
