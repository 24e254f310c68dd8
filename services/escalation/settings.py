"""Escalation settings."""

from shared.settings import CommonSettings


class EscalationSettings(CommonSettings):
    """Settings for the escalation service (port 8082)."""

    http_port: int = 8082
