"""The one error on-call configuration raises, and the small checks every model shares (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class OnCallConfigError(ValueError):
    """A person, rotation, schedule, override or policy that cannot work; `field` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def require_text(value: Any, field: str) -> str:
    """Return value if it is a non-blank string; raise naming `field` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise OnCallConfigError(field, f"must be a non-empty string, got {value!r}")
    return value


def require_ids(values: Any, field: str) -> tuple[str, ...]:
    """Return values as a tuple of distinct non-empty ids (at least one); raise naming `field` otherwise."""
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise OnCallConfigError(field, f"must be a list of ids, got {values!r}")
    ids = tuple(values)
    if not ids:
        raise OnCallConfigError(field, "must not be empty")
    for value in ids:
        require_text(value, field)
    if len(set(ids)) != len(ids):
        raise OnCallConfigError(field, f"lists someone twice: {list(ids)}")
    return ids


def require_int(value: Any, field: str, minimum: int) -> int:
    """Return value if it is an int (not a bool) of at least `minimum`; raise naming `field` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OnCallConfigError(field, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def utc(value: Any, field: str) -> datetime:
    """Return an aware datetime converted to UTC; raise naming `field` for naive or non-datetimes."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise OnCallConfigError(field, f"must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)
