"""Intake settings."""

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import OutgoingMailSettings, SupportMailSettings

ORIGIN = r"https?://[^/?#\s]+"


class IntakeSettings(SupportMailSettings, OutgoingMailSettings):
    """Settings for the intake gateway (port 8080): the API, e-mail intake and the web portal."""

    SECRET_FIELDS = ("portal_secret", "widget_secret", "ack_link_secret")

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
    view_cache_seconds: float = Field(
        default=1.0, ge=0, le=60,
        description="how long the open-work and feature buckets stay in memory; this process's own writes refresh "
                    "them at once, another replica's within this time (0: always read)")
    history_start: date = Field(default=date(2020, 1, 1),
                                description="the oldest day lists and searches look back to")
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

    @field_validator("mail_dkim_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: object) -> object:
        """Accept a comma-separated list from the environment; domains are compared in lower case."""
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        if isinstance(value, list | tuple):
            return tuple(part.strip().lower().rstrip(".") for part in value if part.strip())
        return value

    portal_url: str = Field(default="http://127.0.0.1:8080", pattern=f"^{ORIGIN}$",
                            description="where people reach the portal (ticket links, integration URLs); "
                                        "cookies are Secure when it is https")
    portal_secret: str = Field(default="dev-only-portal-secret-not-for-production", description="signs the portal's CSRF tokens")
    widget_secret: str = Field(default="dev-only-widget-secret-not-for-production",
                               description="HS256 key the host platform signs its users' Help-button tokens with")
    widget_token_max_age_seconds: int = Field(default=600, ge=30, le=3600,
                                              description="longest lifetime a host token may claim (exp - iat)")
    widget_origins: str = Field(default="http://127.0.0.1:8090 http://localhost:8090",
                                pattern=f"^({ORIGIN})?( {ORIGIN})*$",
                                description="host pages (origins, space-separated) that may show the portal in a frame")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="how long a portal session lasts")
    sign_in_link_minutes: int = Field(default=15, ge=1, le=60, description="how long a sign-in link works")
    sign_in_per_address_per_hour: int = Field(default=5, ge=1, description="sign-in e-mails one address may get")
    sign_in_per_ip_per_hour: int = Field(default=30, ge=1, description="sign-in requests one client address may send")
    support_hotline: str = Field(default="1-800-CYBER-911", max_length=60)
    critical_channel: str = Field(default="#critical-incidents", max_length=80,
                                  description="the Slack channel for critical issues, shown next to the severity")
    portal_max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024,
                                         description="largest portal form (with its files) accepted at once")
    portal_files_per_submit: int = Field(default=10, ge=1, le=50)

    triage_url: str = Field(default="http://127.0.0.1:8081", pattern=f"^{ORIGIN}/?$",
                            description="where the console asks triage for the rules it loaded")
    escalation_url: str = Field(default="http://127.0.0.1:8082", pattern=f"^{ORIGIN}/?$",
                                description="where the console asks escalation for the policy it loaded")
    notifier_url: str = Field(default="http://127.0.0.1:8083", pattern=f"^{ORIGIN}/?$",
                              description="where the console asks the notifier for deliveries and its routing")
    prometheus_url: str = Field(default="http://127.0.0.1:9090", pattern=f"^{ORIGIN}(/[^?#\\s]*)?$",
                                description="the Prometheus the SLA dashboard links each figure's query to")
    service_call_timeout_seconds: float = Field(default=3.0, gt=0, le=30,
                                                description="how long the console waits for another service")
    service_key_hours: float = Field(default=12.0, ge=1, le=24 * 7,
                                     description="lifetime of the agent key intake mints for itself to call the "
                                                 "other services' staff APIs (renewed at half)")
    console_queue_rows: int = Field(default=50, ge=10, le=500, description="rows the console's queue shows at first")
    console_refresh_seconds: int = Field(default=10, ge=2, le=300,
                                         description="how often the queue and the ticket workbench refresh themselves")

    @property
    def service_urls(self) -> dict[str, str]:
        """Return where the other services answer, by name."""
        return {"triage": self.triage_url, "escalation": self.escalation_url, "notifier": self.notifier_url}

    @property
    def secure_cookies(self) -> bool:
        """Return True when the portal is served over TLS: its cookies then carry Secure."""
        return self.portal_url.startswith("https://")

    @property
    def frame_origins(self) -> list[str]:
        """Return the host origins allowed to frame the portal."""
        return self.widget_origins.split()

    ack_link_secret: str = Field(default="dev-only-ack-link-secret",
                                 description="verifies the one-click acknowledge links in pages (the notifier's "
                                             "ACK_LINK_SECRET signs them)")
