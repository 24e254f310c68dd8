"""What every inbound integration route shares: proof of identity, limits and accounting.

- A wrong key or signature is 401 and counted per address in the same FailedAuthentications as
  the API's bad keys: an address that keeps failing waits (429) without a database lookup.
- Each integration has its own token bucket (its `rate_per_minute` and `burst`).
- At most `limit` inbound requests are worked on at once; the rest are told to come back
  (Retry-After) at once instead of queueing, so a storm cannot stretch every answer. The limit
  adapts (additive increase, multiplicative decrease, between 2 and `max_in_flight`): it shrinks
  while answers take longer than `target_seconds` (the database is the bottleneck, and more requests
  in flight would only wait longer) and grows back while they are quick.
- A refused request is told how long to wait from the backlog: the requests refused in the last
  second over those completed (at least 1 s, at most 60 s). A flat Retry-After: 1 would have every
  waiting client back each second, and the refusals alone would eat the capacity the work needs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Request

from services.intake.adapters.integration_metrics import IntegrationMetrics
from services.intake.domain.integrations import Integration
from services.intake.entrypoints.auth import FailedAuthentications
from services.intake.entrypoints.ratelimit import TokenBuckets

BUSY_RETRY_SECONDS = 1.0
MAX_BUSY_RETRY_SECONDS = 60.0
MIN_IN_FLIGHT = 2


class RecentRate:
    """Counts events in the current and the previous whole second."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._second = int(monotonic())
        self._current = 0
        self._previous = 0

    def add(self) -> None:
        """Count one event now."""
        self._roll()
        self._current += 1

    def per_second(self) -> float:
        """Return the events of the last full second, or of this one if it already counts more."""
        self._roll()
        return float(max(self._previous, self._current))

    def _roll(self) -> None:
        second = int(self._monotonic())
        if second != self._second:
            self._previous = self._current if second == self._second + 1 else 0
            self._current = 0
            self._second = second


class AdaptiveLimit:
    """A concurrency limit that keeps answers within a latency target (AIMD on each completed request)."""

    def __init__(self, maximum: int, target_seconds: float, *, minimum: int = MIN_IN_FLIGHT,
                 decrease: float = 0.9) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.target = target_seconds
        self.decrease = decrease
        self.limit = float(self.maximum)

    def completed(self, seconds: float) -> None:
        """Adjust the limit after a request took this long."""
        if seconds > self.target:
            self.limit = max(float(self.minimum), self.limit * self.decrease)
        else:
            self.limit = min(float(self.maximum), self.limit + 1.0 / max(self.limit, 1.0))

    def allows(self, in_flight: int) -> bool:
        """Return True if one more request may start while in_flight are being worked on."""
        return in_flight < int(self.limit)


class InboundGuard:
    """Per-address failure accounting, per-integration rate limits and a cap on requests in flight."""

    def __init__(self, failures: FailedAuthentications, metrics: IntegrationMetrics, max_in_flight: int, *,
                 target_seconds: float = 0.1, monotonic: Callable[[], float] = time.perf_counter,
                 replicas: int = 1) -> None:
        self.failures = failures
        self.metrics = metrics
        self.limit = AdaptiveLimit(max_in_flight, target_seconds)
        self.in_flight = 0
        self._monotonic = monotonic
        self.replicas = replicas
        self._buckets: dict[tuple[int, int], TokenBuckets] = {}
        self._refused = RecentRate(monotonic)
        self._completed = RecentRate(monotonic)

    @staticmethod
    def address(request: Request) -> str:
        """Return the caller's address."""
        return request.client.host if request.client else "unknown"

    def lockout(self, request: Request) -> float:
        """Return the seconds this caller must wait after too many bad keys (0: it may try)."""
        return self.failures.wait(self.address(request))

    def failed(self, request: Request, kind: str) -> None:
        """Count a request that proved nobody."""
        self.failures.failed(self.address(request))
        self.metrics.count(kind, "unauthorized")

    def throttle(self, integration: Integration) -> float:
        """Spend one token of the integration's bucket; return 0, or the seconds to wait."""
        limits = (integration.rate_per_minute, integration.burst)
        buckets = self._buckets.get(limits)
        if buckets is None:
            buckets = self._buckets[limits] = TokenBuckets(*limits, replicas=self.replicas)
        return buckets.take(integration.id)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[bool]:
        """Yield True if the request may be worked on now, False if too many already are."""
        if not self.limit.allows(self.in_flight):
            self._refused.add()
            yield False
            return
        self.in_flight += 1
        started = self._monotonic()
        try:
            yield True
        finally:
            self.in_flight -= 1
            self._completed.add()
            self.limit.completed(self._monotonic() - started)

    def busy_retry_after(self) -> float:
        """Return the seconds a refused request should wait: the recent backlog over the recent throughput."""
        backlog = self._refused.per_second() / max(self._completed.per_second(), 1.0)
        return min(MAX_BUSY_RETRY_SECONDS, max(BUSY_RETRY_SECONDS, backlog))
