"""Typed settings every service shares, read from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_MARKERS = ("guest:guest@", "changeme", "change-me", "example.invalid")


class CommonSettings(BaseSettings):
    """Connection and runtime settings; env names are the upper-case field names (AMQP_URL, ...)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str = Field(default="incidents", pattern=r"^[A-Za-z0-9_-]{1,60}$")
    http_host: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    amqp_prefetch: int = Field(default=100, ge=1, le=1000)
    delivery_limit: int = Field(default=5, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    service_levels_file: Path | None = Field(
        default=None, description="teams per tier, SLA allowances and business calendar (default: packaged KB-005)")

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> CommonSettings:
        """Refuse to start in production with default or placeholder credentials."""
        if self.environment == "production":
            for name in ("amqp_url", "mongodb_url"):
                value = getattr(self, name)
                if any(marker in value for marker in PLACEHOLDER_MARKERS):
                    raise ValueError(f"{name.upper()} holds a placeholder credential in production")
        return self
