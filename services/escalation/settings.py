"""Escalation settings."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from shared.settings import CommonSettings


class EscalationSettings(CommonSettings):
    """Settings for the escalation service (port 8082); the policy file holds the business rules."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("oncall_feed_secret",)

    http_port: int = 8082
    escalation_policy_file: Path | None = None
    """ESCALATION_POLICY_FILE: replaces the packaged services/escalation/policy.yaml."""
    timer_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """TIMER_POLL_SECONDS: how often the timer loop looks for due clock steps."""
    timer_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    """TIMER_LEASE_SECONDS: how long a claimed clock is held before another replica may take it over."""
    escalation_number_prefix: str = Field(default="ESC", pattern=r"^[A-Z]{2,5}$")
    """ESCALATION_NUMBER_PREFIX: new ticket numbers issued on escalation; must differ from TICKET_PREFIX."""

    intake_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://")
    """INTAKE_URL: where intake answers `GET /v1/me`; the on-call API checks API keys there (intake owns identities)."""
    oncall_file: Path | None = None
    """ONCALL_FILE: an on-call YAML file kept in git; it wins over the API for what it defines. Unset: none."""
    oncall_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    """ONCALL_CACHE_SECONDS: how often the stored on-call configuration's revision is checked (changes elsewhere)."""
    oncall_gap_horizon_days: int = Field(default=14, ge=1, le=366)
    """ONCALL_GAP_HORIZON_DAYS: the coverage-gap gauge looks this many days ahead."""
    oncall_refresh_seconds: float = Field(default=60.0, gt=0, le=3600)
    """ONCALL_REFRESH_SECONDS: how often the gap gauge is recomputed and shift starts are looked for (hand-offs)."""
    oncall_feed_secret: str = "dev-only-oncall-feed-secret"
    """ONCALL_FEED_SECRET: signs iCal feed URLs; changing it revokes them all. Production needs a real secret."""
    oncall_feed_base_url: str = Field(default="http://127.0.0.1:8082", pattern=r"^https?://")
    """ONCALL_FEED_BASE_URL: escalation's public address, as calendar apps reach it."""
    test_clock_file: Path | None = None
    """TEST_CLOCK_FILE (ENVIRONMENT=test only): seconds to add to the system time, read from this file, so e2e
    tests move escalation's time forward instead of waiting."""

    @model_validator(mode="after")
    def _test_clock_only_in_tests(self) -> "EscalationSettings":
        """A movable clock is for tests; anywhere else it is refused."""
        if self.test_clock_file is not None and self.environment != "test":
            raise ValueError("TEST_CLOCK_FILE is only allowed with ENVIRONMENT=test")
        return self
