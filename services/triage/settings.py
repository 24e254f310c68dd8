"""Triage settings."""

from shared.settings import CommonSettings


class TriageSettings(CommonSettings):
    """Settings for the triage service (port 8081)."""

    http_port: int = 8081
