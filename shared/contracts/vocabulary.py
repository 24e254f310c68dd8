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


class Status(StrEnum):
    """The six ticket statuses of KB-005, in lifecycle order."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_INFO = "waiting_for_info"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


PAUSED_STATUSES = frozenset({Status.WAITING_FOR_INFO, Status.ON_HOLD})
"""Statuses in which SLA clocks do not run (waiting for the reporter, or for a third party)."""
FINISHED_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})
"""Statuses in which support's work is done (the resolution target is measured on entering one)."""
OPEN_STATUSES = tuple(status for status in Status if status not in FINISHED_STATUSES)
"""Statuses of work in flight: not resolved and not closed."""

TICKET_NUMBER_PATTERN = r"^[A-Z]{2,5}-\d{6,}$"
"""Ticket numbers: a prefix (INC for intake, ESC for numbers issued on escalation) and six or more digits."""


def format_number(prefix: str, sequence: int) -> str:
    """Return the human-readable ticket number, e.g. INC-000123."""
    if sequence < 1:
        raise ValueError("ticket sequence starts at 1")
    return f"{prefix}-{sequence:06d}"
