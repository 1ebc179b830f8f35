"""Per-participant rate limits: one token bucket per authenticated caller.

A participant that floods the node is answered RESOURCE_EXHAUSTED with how long to wait, while every
other participant keeps its own full bucket, so one misbehaving client cannot starve the others.
Configured by ``[limits] rate_per_s`` (sustained calls per second) and ``burst`` (bucket size);
``rate_per_s = 0`` switches limiting off. The clock is injectable so tests need no sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import ResourceExhausted


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by participant id; thread-safe (calls arrive on several threads/loops)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate_per_s = rate_per_s
        # A rate without a burst would refuse everything; one call at a time is the least useful bucket.
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def acquire(self, participant: str) -> None:
        """Take one token for ``participant`` or raise ResourceExhausted saying when one will be there."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            b = self._buckets.get(participant)
            if b is None:
                b = self._buckets[participant] = _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.updated) * self.rate_per_s)
            b.updated = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return
            wait = (1.0 - b.tokens) / self.rate_per_s
        raise ResourceExhausted(
            f"rate limit for {participant} reached ({self.rate_per_s:g} calls/s, burst {self.burst}); "
            f"retry in {wait:.1f} s", retry_after_s=wait)
