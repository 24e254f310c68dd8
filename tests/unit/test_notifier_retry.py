"""Backoff and jitter bounds, retry classification and the retry decision."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.retry import (
    Outcome,
    RetryPolicy,
    classify_http,
    classify_smtp,
    delivered,
    parse_retry_after,
    permanent,
    transient,
)
from shared.clock import FakeClock

NOW = FakeClock().now()


@given(attempt=st.integers(min_value=1, max_value=40), seed=st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_the_jitter_band_and_the_cap(attempt, seed):
    policy = RetryPolicy(base_seconds=2, factor=2, max_seconds=300, jitter=0.5)
    delay = policy.backoff(attempt, random.Random(seed))
    ceiling = min(300, 2 * 2 ** (attempt - 1))
    assert ceiling * 0.5 <= delay <= ceiling <= 300


def test_backoff_ceiling_grows_exponentially_until_capped():
    policy = RetryPolicy(base_seconds=1, factor=2, max_seconds=10)
    assert [policy.ceiling(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_spreads_retries():
    policy = RetryPolicy(base_seconds=10, jitter=1.0)
    rng = random.Random(7)
    assert len({round(policy.backoff(3, rng), 3) for _ in range(20)}) > 10


def test_zero_jitter_is_exact():
    assert RetryPolicy(base_seconds=3, jitter=0).backoff(2, random.Random()) == 6


@pytest.mark.parametrize("kwargs", [dict(base_seconds=0), dict(factor=0.5), dict(jitter=2), dict(max_attempts=0),
                                    dict(base_seconds=10, max_seconds=5)])
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (429, Outcome.TRANSIENT), (500, Outcome.TRANSIENT),
    (503, Outcome.TRANSIENT), (400, Outcome.PERMANENT), (401, Outcome.PERMANENT), (404, Outcome.PERMANENT),
    (410, Outcome.PERMANENT), (301, Outcome.PERMANENT),
])
def test_http_status_classification(status, outcome):
    assert classify_http(status, None, NOW).outcome is outcome


def test_retry_after_in_seconds_and_as_http_date():
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after((NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT"), NOW) == 30
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert classify_http(429, "7", NOW).retry_after_seconds == 7


@pytest.mark.parametrize(("code", "outcome"), [(550, Outcome.PERMANENT), (553, Outcome.PERMANENT),
                                               (421, Outcome.TRANSIENT), (451, Outcome.TRANSIENT)])
def test_smtp_code_classification(code, outcome):
    assert classify_smtp(code, "mailbox unavailable").outcome is outcome


def test_decision_retries_transient_failures_with_backoff():
    policy = RetryPolicy(base_seconds=2, jitter=0.5, max_attempts=3)
    decision = policy.decide(transient("HTTP 500", status=500), 1, NOW, random.Random(1))
    assert decision.state == "pending" and not decision.final
    assert NOW + timedelta(seconds=1) <= decision.next_attempt_at <= NOW + timedelta(seconds=2)


def test_decision_honours_retry_after_when_longer_than_backoff():
    decision = RetryPolicy(base_seconds=1).decide(transient("HTTP 429", retry_after_seconds=45), 1, NOW, random.Random())
    assert decision.next_attempt_at == NOW + timedelta(seconds=45)


def test_decision_never_retries_permanent_errors():
    decision = RetryPolicy().decide(permanent("HTTP 404", status=404), 1, NOW, random.Random())
    assert decision.state == "failed" and decision.final and "HTTP 404" in decision.error


def test_decision_gives_up_after_max_attempts():
    policy = RetryPolicy(max_attempts=3)
    assert policy.decide(transient("x"), 2, NOW, random.Random()).state == "pending"
    final = policy.decide(transient("x"), 3, NOW, random.Random())
    assert final.state == "failed" and "3 attempts" in final.error


def test_decision_delivered():
    assert RetryPolicy().decide(delivered(200), 4, NOW, random.Random()).state == "delivered"
