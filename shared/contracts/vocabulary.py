"""The words of KB-005 that every service shares: severities, incident types, ticket kinds."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """KB-005 severity levels; `level` is the spec's Severity 1-4 number."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def level(self) -> int:
        """Return 1 for critical up to 4 for low."""
        return _LEVELS[self]

    @classmethod
    def from_level(cls, level: int) -> Severity:
        """Return the severity for a spec level 1-4, or raise ValueError."""
        for severity, number in _LEVELS.items():
            if number == level:
                return severity
        raise ValueError(f"severity level must be 1-4, got {level}")


_LEVELS = {Severity.CRITICAL: 1, Severity.HIGH: 2, Severity.MEDIUM: 3, Severity.LOW: 4}


class IncidentType(StrEnum):
    """KB-005 incident types."""

    PERFORMANCE = "performance"
    ACCESS = "access"
    DATA = "data"
    SECURITY = "security"
    FEATURE = "feature"
    INFRASTRUCTURE = "infrastructure"


class TicketKind(StrEnum):
    """The three kinds of ticket a reporter can open."""

    INCIDENT = "incident"
    BUG_REPORT = "bug_report"
    FEATURE_REQUEST = "feature_request"
