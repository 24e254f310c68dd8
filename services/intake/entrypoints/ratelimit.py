"""Per-caller token buckets: a steady rate with a burst allowance, answered with 429 and Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


def share_of(limit: int, replicas: int) -> int:
    """Return one replica's share of a limit that `replicas` processes enforce together (at least 1)."""
    return max(1, math.ceil(limit / replicas))


class TokenBuckets:
    """One bucket per key, refilled continuously; memory is bounded by dropping full, idle buckets.

    With `replicas` > 1 this process enforces its share of each limit: connections are spread over
    the replicas by the kernel (SO_REUSEPORT), so together they allow about the configured rate.
    """

    def __init__(self, per_minute: int, burst: int, monotonic: Callable[[], float] = time.monotonic, *,
                 replicas: int = 1) -> None:
        self.rate = per_minute / replicas / 60.0
        self.burst = share_of(burst, replicas)
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Spend one token; return 0 if allowed, else the seconds to wait before retrying."""
        now = self._monotonic()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 10_000:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely: they behave exactly like new ones."""
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.rate >= self.burst:
                del self._buckets[key]


def retry_after_header(seconds: float) -> dict[str, str]:
    """Return a Retry-After header in whole seconds (at least 1)."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
