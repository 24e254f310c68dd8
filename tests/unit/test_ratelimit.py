from services.intake.entrypoints.ratelimit import TokenBuckets, retry_after_header


class Tick:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_burst_then_steady_rate_then_wait():
    tick = Tick()
    buckets = TokenBuckets(per_minute=60, burst=3, monotonic=tick)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("k")
    assert 0.9 < wait <= 1.0
    tick.now += 1.0
    assert buckets.take("k") == 0.0
    assert buckets.take("other") == 0.0  # keys do not share a bucket


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.2) == {"Retry-After": "1"}
    assert retry_after_header(2.1) == {"Retry-After": "3"}
