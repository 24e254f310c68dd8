"""Identifiers: sortable unique event ids and API key material."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from ulid import ULID

API_KEY_PREFIX = "ik_"


def new_id(at: datetime | None = None) -> str:
    """Return a new ULID string: unique and sortable by creation time (now, or `at` for records of the past)."""
    return str(ULID.from_datetime(at)) if at is not None else str(ULID())


def new_api_key() -> str:
    """Return a fresh random API key (shown once, stored only as a hash)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """Return the SHA-256 hex digest under which an API key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
