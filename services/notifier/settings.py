"""Notifier settings."""

from pydantic import Field

from shared.settings import CommonSettings


class NotifierSettings(CommonSettings):
    """Settings for the notifier service (port 8083) and its SMTP relay."""

    http_port: int = 8083
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "Support <support@platform.local>"
    mail_domain: str = "platform.local"
