"""The per-relay rate limit: a token bucket shared by every delivery run in the process.

`CERTMON_SMTP_RATE_PER_SECOND` tokens are added each second up to `CERTMON_SMTP_RATE_BURST`; each
message takes one, and a run that finds the bucket empty waits for the next token. One bucket per
relay (host:port) and process: with N delivery worker processes the relay sees up to N times the
rate, so set it to the relay's limit divided by N (docs/alerts.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from certmon.config import Settings

# Indirections so the pure-logic tests can drive the bucket with a fake clock.
_monotonic: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take()` blocks until one is free."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._at = _monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token (possibly one not there yet) and return how long to wait for it, in seconds."""
        with self._lock:
            now = _monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def take(self) -> float:
        """Wait for a token; returns the time waited (0 when one was free)."""
        wait = self.reserve()
        if wait > 0:
            _sleep(wait)
        return wait


_buckets: dict[tuple[str, float, int], TokenBucket] = {}
_lock = threading.Lock()


def relay_bucket(settings: Settings) -> TokenBucket | None:
    """The process's bucket for the configured SMTP relay, or None when unlimited or not SMTP."""
    if not settings.smtp_host or settings.smtp_rate_per_second <= 0:
        return None
    key = (f"{settings.smtp_host}:{settings.smtp_port}", settings.smtp_rate_per_second, settings.smtp_rate_burst)
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = TokenBucket(settings.smtp_rate_per_second, settings.smtp_rate_burst)
        return bucket
