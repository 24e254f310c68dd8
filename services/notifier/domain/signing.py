"""HMAC-SHA256 webhook signatures over `<timestamp>.<body>`, one key per endpoint (pure); see docs/webhooks.md."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

SIGNATURE_HEADER = "X-Incidents-Signature"
TIMESTAMP_HEADER = "X-Incidents-Timestamp"
KEY_ID_HEADER = "X-Incidents-Key-Id"
DELIVERY_HEADER = "X-Incidents-Delivery"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class SigningKey:
    """One endpoint's signing key: the id sent in X-Incidents-Key-Id and the secret (never shown in repr)."""

    key_id: str
    secret: str = field(repr=False)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value `sha256=<hex>` for a body sent at a Unix timestamp."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(key: SigningKey, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the key id, timestamp and signature headers for a body."""
    return {KEY_ID_HEADER: key.key_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(key.secret, timestamp, body)}


def verify(secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes, now: float,
           tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Return True if the signature matches the body and the timestamp is within tolerance of now."""
    if not timestamp_header or not signature_header or not timestamp_header.isdigit():
        return False
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, signature_header.strip())
