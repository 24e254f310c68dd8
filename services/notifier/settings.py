"""Notifier settings; env names are the upper-case field names."""

from pathlib import Path

from pydantic import Field, model_validator

from shared.settings import OutgoingMailSettings, SupportMailSettings


class NotifierSettings(SupportMailSettings, OutgoingMailSettings):
    """Settings for the notifier service (port 8083), its channels, routing file and delivery loop."""

    SECRET_FIELDS = ("ack_link_secret",)

    http_port: int = 8083
    portal_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^/?#\s]+$")
    """Where people open a ticket's page (the portal served by intake): every e-mail links to it."""

    notifier_routing_file: Path | None = None
    """Routing YAML; the packaged services/notifier/routing.yaml when unset."""
    webhook_signing_secret: str = ""
    """Development only: signs generic webhook endpoints that have no secret of their own (key id `development`).

    Never used in production, where every webhook endpoint needs its own (secret_env/secret_file in the routing file).
    """
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    ack_link_secret: str = "dev-only-ack-link-secret"
    """HMAC key of the one-click acknowledge links in pages; intake verifies them with the same ACK_LINK_SECRET."""
    ack_link_base_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://")
    """Intake's public address: acknowledge links point at <this>/ack/<token>."""
    ack_link_ttl_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    """How long an acknowledge link works."""

    delivery_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    delivery_concurrency: int = Field(default=16, ge=1, le=256)
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    delivery_max_interrupted_steps: int = Field(default=5, ge=1, le=50)
    """Steps in a row that may end without storing a result (process stopped, store failed) before the delivery fails."""
    retry_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86_400)
    retry_jitter: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> "NotifierSettings":
        """Leases must outlast a send (per-endpoint webhook secrets are checked with the routing file)."""
        longest_send = max(self.smtp_timeout_seconds, self.webhook_timeout_seconds)
        if self.delivery_lease_seconds <= longest_send:
            raise ValueError(
                f"DELIVERY_LEASE_SECONDS ({self.delivery_lease_seconds}) must exceed the longest send timeout "
                f"({longest_send}), or a slow send could be claimed and sent twice"
            )
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("RETRY_MAX_SECONDS must be at least RETRY_BASE_SECONDS")
        return self
