"""Triage settings."""

from pathlib import Path

from shared.settings import CommonSettings


class TriageSettings(CommonSettings):
    """Settings for the triage service (port 8081); TRIAGE_RULES_FILE replaces the packaged KB-005 rules."""

    http_port: int = 8081
    triage_rules_file: Path | None = None
