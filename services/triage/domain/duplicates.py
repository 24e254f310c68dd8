"""Duplicate detection: a report's fingerprint and whether it joins an open group (pure, no I/O)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import IncidentType

FILLER_WORDS = frozenset({"a", "an", "the", "is", "are", "was", "were", "be", "been", "it", "its", "our", "my", "we", "i"})


def normalise_title(title: str) -> str:
    """Return the title lower-cased, without accents, punctuation, filler words or repeated spaces."""
    decomposed = unicodedata.normalize("NFKD", title)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    words = re.sub(r"[^a-z0-9]+", " ", ascii_only).split()
    return " ".join(word for word in words if word not in FILLER_WORDS)


def fingerprint(type: IncidentType, component: str | None, title: str) -> str:
    """Return the fingerprint of a report: a hash of its type, component and normalised title."""
    key = f"{type.value}|{(component or '').strip().lower()}|{normalise_title(title)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def users_counted(users_affected: int | None) -> int:
    """Return how many affected users a report adds to its group: at least its own reporter."""
    return max(users_affected or 0, 1)


@dataclass(frozen=True)
class GroupView:
    """A duplicate group as triage stores it: the first ticket and the totals so far."""

    fingerprint: str
    primary_ticket_id: str
    primary_number: str
    opened_at: datetime
    reports: int
    users_affected: int


def joins(group: GroupView, reported_at: datetime, window: timedelta) -> bool:
    """Return True if a report at `reported_at` falls within the window opened by the group's first report."""
    return abs(reported_at - group.opened_at) <= window
