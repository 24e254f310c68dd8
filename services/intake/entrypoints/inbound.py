"""What every inbound integration route shares: proof of identity, limits and accounting.

- A wrong key or signature is 401 and counted per address in the same FailedAuthentications as
  the API's bad keys: an address that keeps failing waits (429) without a database lookup.
- Each integration has its own token bucket (its `rate_per_minute` and `burst`).
- At most `max_in_flight` inbound requests are worked on at once; the rest are told to come back
  (Retry-After) at once instead of queueing, so a storm cannot stretch every answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from services.intake.adapters.integration_metrics import IntegrationMetrics
from services.intake.domain.integrations import Integration
from services.intake.entrypoints.auth import FailedAuthentications
from services.intake.entrypoints.ratelimit import TokenBuckets

BUSY_RETRY_SECONDS = 1.0


class InboundGuard:
    """Per-address failure accounting, per-integration rate limits and a cap on requests in flight."""

    def __init__(self, failures: FailedAuthentications, metrics: IntegrationMetrics, max_in_flight: int) -> None:
        self.failures = failures
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._buckets: dict[tuple[int, int], TokenBuckets] = {}

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
            buckets = self._buckets[limits] = TokenBuckets(*limits)
        return buckets.take(integration.id)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[bool]:
        """Yield True if the request may be worked on now, False if too many already are."""
        if self.in_flight >= self.max_in_flight:
            yield False
            return
        self.in_flight += 1
        try:
            yield True
        finally:
            self.in_flight -= 1
