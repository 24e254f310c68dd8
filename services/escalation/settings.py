"""Escalation settings."""

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings


class EscalationSettings(CommonSettings):
    """Settings for the escalation service (port 8082); the policy file holds the business rules."""

    http_port: int = 8082
    escalation_policy_file: Path | None = None
    """ESCALATION_POLICY_FILE: replaces the packaged services/escalation/policy.yaml."""
    timer_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """TIMER_POLL_SECONDS: how often the timer loop looks for due clock steps."""
    timer_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    """TIMER_LEASE_SECONDS: how long a claimed clock is held before another replica may take it over."""
    escalation_number_prefix: str = Field(default="ESC", pattern=r"^[A-Z]{2,5}$")
    """ESCALATION_NUMBER_PREFIX: new ticket numbers issued on escalation; must differ from TICKET_PREFIX."""
