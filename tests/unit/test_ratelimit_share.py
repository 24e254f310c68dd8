"""Rate limits shared by replicas: each process enforces its share, so together they allow the configured rate."""

from __future__ import annotations

from services.intake.entrypoints.ratelimit import TokenBuckets, share_of


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def allowed_in(buckets: TokenBuckets, clock: Clock, seconds: int, per_second: int) -> int:
    """Return how many of `per_second` requests a second for `seconds` seconds the buckets allow."""
    allowed = 0
    for tick in range(seconds * per_second):
        clock.now = tick / per_second
        allowed += buckets.take("key") == 0
    return allowed


def test_two_replicas_together_allow_what_one_process_allows():
    one_clock, clocks = Clock(), [Clock(), Clock()]
    alone = allowed_in(TokenBuckets(600, 100, one_clock), one_clock, 60, 40)
    # the kernel spreads connections evenly: each replica sees half of the requests
    together = sum(allowed_in(TokenBuckets(600, 100, clock, replicas=2), clock, 60, 20) for clock in clocks)
    assert alone == 100 + 600 - 1 or alone == 100 + 600, alone
    assert abs(together - alone) <= 2, (together, alone)


def test_a_share_is_never_zero():
    assert share_of(1, 3) == 1 and share_of(100, 3) == 34
