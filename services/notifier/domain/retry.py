"""Retry policy: classify a send outcome, then decide delivered / retry at a time / failed (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What one send attempt achieved."""

    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    """The classified result of one attempt; retry_after_seconds comes from a Retry-After header."""

    outcome: Outcome
    error: str | None = None
    status: int | None = None
    retry_after_seconds: float | None = None


def delivered(status: int | None = None) -> SendResult:
    """Return a successful result."""
    return SendResult(Outcome.DELIVERED, status=status)


def transient(error: str, *, status: int | None = None, retry_after_seconds: float | None = None) -> SendResult:
    """Return a failure worth retrying."""
    return SendResult(Outcome.TRANSIENT, error=error[:2000], status=status, retry_after_seconds=retry_after_seconds)


def permanent(error: str, *, status: int | None = None) -> SendResult:
    """Return a failure that retrying cannot fix."""
    return SendResult(Outcome.PERMANENT, error=error[:2000], status=status)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After header (delta-seconds or HTTP-date) asks to wait, or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def unexpected(exc: BaseException, *, hide: str | None = None, shown_as: str = "") -> SendResult:
    """Return an exception outside the classified send paths as a transient failure (a counted attempt).

    `hide` (an endpoint URL, whose path may be a secret) is replaced by `shown_as` in the error text.
    """
    text = f"unexpected {type(exc).__name__}: {exc}"
    if hide:
        text = text.replace(hide, shown_as)
    return transient(text)


def classify_http(status: int, retry_after: str | None, now: datetime) -> SendResult:
    """Return the result of an HTTP response: 2xx delivered, 429 and 5xx transient, other 4xx/3xx permanent."""
    if 200 <= status < 300:
        return delivered(status)
    wait = parse_retry_after(retry_after, now)
    if status == 429 or status >= 500:
        return transient(f"HTTP {status}", status=status, retry_after_seconds=wait)
    return permanent(f"HTTP {status}", status=status)


def classify_smtp(code: int, message: str) -> SendResult:
    """Return the result of an SMTP reply code: 5xx (e.g. bad address) permanent, anything else transient."""
    text = f"SMTP {code}: {message}"[:2000]
    if 500 <= code < 600:
        return permanent(text, status=code)
    return transient(text, status=code)


@dataclass(frozen=True)
class Decision:
    """What to do after an attempt: final state, and when to try again if not final."""

    state: str  # "delivered" | "pending" | "failed"
    next_attempt_at: datetime | None = None
    error: str | None = None

    @property
    def final(self) -> bool:
        """Return True if no further attempt will be made."""
        return self.state != "pending"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; at most max_attempts attempts per delivery.

    max_interrupted bounds the steps that end without storing any result (the process stopped, or
    storing the result failed): after that many in a row the delivery fails without another send.
    """

    base_seconds: float = 2.0
    factor: float = 2.0
    max_seconds: float = 300.0
    max_attempts: int = 6
    jitter: float = 0.5
    max_retry_after_seconds: float = 3600.0
    max_interrupted: int = 5

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.factor < 1 or self.max_seconds < self.base_seconds:
            raise ValueError("need base_seconds > 0, factor >= 1 and max_seconds >= base_seconds")
        if not 0 <= self.jitter <= 1 or self.max_attempts < 1 or self.max_interrupted < 1:
            raise ValueError("need 0 <= jitter <= 1, max_attempts >= 1 and max_interrupted >= 1")

    def ceiling(self, attempt: int) -> float:
        """Return the un-jittered delay after the given failed attempt (1-based), capped."""
        return min(self.max_seconds, self.base_seconds * self.factor ** max(0, attempt - 1))

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Return a delay in [ceiling*(1-jitter), ceiling] after the given failed attempt."""
        ceiling = self.ceiling(attempt)
        return ceiling * (1 - self.jitter) + rng.random() * ceiling * self.jitter

    def decide(self, result: SendResult, attempt: int, now: datetime, rng: random.Random) -> Decision:
        """Return the next step after attempt number `attempt` produced result."""
        if result.outcome is Outcome.DELIVERED:
            return Decision("delivered")
        if result.outcome is Outcome.PERMANENT:
            return Decision("failed", error=f"permanent: {result.error}")
        if attempt >= self.max_attempts:
            return Decision("failed", error=f"gave up after {attempt} attempts: {result.error}")
        delay = self.backoff(attempt, rng)
        if result.retry_after_seconds is not None:
            delay = min(max(delay, result.retry_after_seconds), max(self.max_retry_after_seconds, delay))
        return Decision("pending", next_attempt_at=now + timedelta(seconds=delay), error=result.error)

    def after_interruptions(self, interrupted: int) -> Decision | None:
        """Return a final failure once `interrupted` steps in a row ended without storing a result, else None."""
        if interrupted < self.max_interrupted:
            return None
        return Decision("failed", error=f"gave up after {interrupted} interrupted steps: each time the notifier "
                                        "stopped, or could not store the result, before the step finished")
