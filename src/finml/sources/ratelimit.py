"""Client-side rate limiting and retry backoff, with an injectable clock and sleep.

``RateLimiter`` keeps the times of recent requests in sliding windows (a minute and a day):
``acquire()`` sleeps until one more request fits the per-minute window and raises when the
per-day budget is spent (waiting most of a day is not what a batch job should do).
``Backoff`` gives exponential waits with full jitter: ``uniform(0, min(max, base * 2**n))``,
so many clients retrying at once spread out instead of hitting the server together.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from finml.errors import CollectorError

MINUTE, DAY = 60.0, 86_400.0


class RateLimitExhausted(CollectorError):
    """The per-day request budget is spent."""


class RateLimiter:
    """At most ``per_minute`` requests in any 60 s and ``per_day`` in any 24 h."""

    def __init__(
        self,
        per_minute: int,
        per_day: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        history: Iterable[float] = (),
    ) -> None:
        if per_minute < 1 or per_day < 1:
            raise ValueError(f"rate limits: expected >= 1, got {per_minute}/min {per_day}/day")
        self.per_minute, self.per_day = per_minute, per_day
        self.clock, self.sleep = clock, sleep
        self._calls: deque[float] = deque(sorted(history))
        self.waited_s = 0.0

    @property
    def history(self) -> list[float]:
        """Request times within the last day (persist them to carry the budget across runs)."""
        self._forget(self.clock())
        return list(self._calls)

    def remaining_today(self) -> int:
        return self.per_day - len(self.history)

    def acquire(self) -> float:
        """Wait until a request is allowed, record it, and return the seconds waited.

        Raises:
            RateLimitExhausted: ``per_day`` requests were made in the last 24 h.
        """
        now = self.clock()
        self._forget(now)
        if len(self._calls) >= self.per_day:
            free_at = self._calls[0] + DAY
            raise RateLimitExhausted(
                f"rate limit: expected at most {self.per_day} requests per day, got "
                f"{len(self._calls)} in the last 24 h; next slot in {free_at - now:,.0f} s"
            )
        waited = 0.0
        recent = [t for t in self._calls if t > now - MINUTE]
        if len(recent) >= self.per_minute:
            # The oldest call of the window must leave it before one more fits.
            wait = recent[-self.per_minute] + MINUTE - now
            if wait > 0:
                self.sleep(wait)
                waited = wait
                now = max(self.clock(), now + wait)
        self._calls.append(now)
        self.waited_s += waited
        return waited

    def _forget(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - DAY:
            self._calls.popleft()


@dataclass
class Backoff:
    """Exponential backoff with full jitter; ``next()`` gives the next wait in seconds."""

    base_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
