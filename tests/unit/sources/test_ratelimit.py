"""RateLimiter and Backoff on a fake clock: limits hold in every window, waits are exact."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.sources.ratelimit import Backoff, RateLimiter, RateLimitExhausted


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_per_minute_limit_sleeps_until_the_oldest_call_leaves_the_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(5, 100, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        assert limiter.acquire() == 0.0
        t.now += 1
    assert limiter.acquire() == pytest.approx(55.0)  # first call at +0 leaves at +60
    assert t.now == pytest.approx(1_000_060.0) and limiter.waited_s == pytest.approx(55.0)


@settings(max_examples=50, deadline=None)
@given(
    per_minute=st.integers(1, 6),
    gaps=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=30),
)
def test_no_sixty_second_window_ever_holds_more_than_the_limit(per_minute, gaps) -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute, 10_000, clock=t.clock, sleep=t.sleep)
    for gap in gaps:
        t.now += gap
        limiter.acquire()
    calls = limiter.history
    for i, start in enumerate(calls):
        in_window = [c for c in calls[i:] if c < start + 60]
        assert len(in_window) <= per_minute


def test_daily_budget_raises_and_names_the_limit() -> None:
    t = FakeTime()
    limiter = RateLimiter(100, 3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.acquire()
    assert limiter.remaining_today() == 0
    with pytest.raises(RateLimitExhausted, match="expected at most 3 requests per day, got 3"):
        limiter.acquire()
    t.now += 86_400
    limiter.acquire()  # a day later the budget is back
    assert limiter.remaining_today() == 2


def test_history_carries_the_budget_into_a_new_limiter() -> None:
    t = FakeTime()
    first = RateLimiter(100, 2, clock=t.clock, sleep=t.sleep)
    first.acquire()
    first.acquire()
    second = RateLimiter(100, 2, clock=t.clock, sleep=t.sleep, history=first.history)
    with pytest.raises(RateLimitExhausted):
        second.acquire()


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="expected >= 1"):
        RateLimiter(0, 10)


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    backoff = Backoff(0.5, 4.0, rng=random.Random(3))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    waits = [backoff.next() for _ in ceilings]
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    fourth: list[float] = []
    for seed in range(200):
        backoff_n = Backoff(1.0, 100.0, rng=random.Random(seed))
        fourth.append([backoff_n.next() for _ in range(4)][-1])
    assert max(fourth) > 4.0 and min(fourth) < 2.0  # spread over [0, 8): jitter, not fixed
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next() <= 0.5
