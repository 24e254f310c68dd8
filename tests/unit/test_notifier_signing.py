"""HMAC-SHA256 webhook signatures: what docs/webhooks.md promises receivers."""

from __future__ import annotations

import hashlib
import hmac

from services.notifier.domain.signing import SigningKey, signature, signed_headers, verify

SECRET = "s3cret-for-tests-only"
KEY = SigningKey("pager", SECRET)
BODY = b'{"message":"ticket_received"}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1700000000, BODY) == f"sha256={expected}"


def test_signed_headers_verify():
    headers = signed_headers(KEY, 1700000000, BODY)
    assert verify(SECRET, headers["X-Incidents-Timestamp"], headers["X-Incidents-Signature"], BODY, now=1700000010)
    assert headers["X-Incidents-Key-Id"] == "pager"


def test_a_key_never_shows_its_secret():
    assert SECRET not in repr(KEY) and SECRET not in str(KEY)


def test_tampered_body_wrong_secret_and_missing_headers_fail():
    headers = signed_headers(KEY, 1700000000, BODY)
    ts, sig = headers["X-Incidents-Timestamp"], headers["X-Incidents-Signature"]
    assert not verify(SECRET, ts, sig, BODY + b" ", now=1700000000)
    assert not verify("other-secret", ts, sig, BODY, now=1700000000)
    assert not verify(SECRET, None, sig, BODY, now=1700000000)
    assert not verify(SECRET, "abc", sig, BODY, now=1700000000)


def test_stale_timestamps_are_rejected():
    headers = signed_headers(KEY, 1700000000, BODY)
    assert not verify(SECRET, headers["X-Incidents-Timestamp"], headers["X-Incidents-Signature"], BODY,
                      now=1700000000 + 301)
