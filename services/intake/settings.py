"""Intake settings."""

from pydantic import Field

from shared.settings import CommonSettings


class IntakeSettings(CommonSettings):
    """Settings for the intake gateway (port 8080)."""

    http_port: int = 8080
    ticket_prefix: str = Field(default="INC", pattern=r"^[A-Z]{2,5}$")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
