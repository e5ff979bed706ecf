"""The delivery run's clock: the caller's `now` (tests travel in time) plus the real time elapsed.

A batch of deliveries can take longer than a lease; every claim, lease and outcome must therefore
be stamped with the time it really happens, not the time the batch started.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from certmon.db import utcnow

# Elapsed time comes from the monotonic clock, so a wall-clock step (NTP) cannot shorten a lease.
_monotonic = time.monotonic


class RunClock:
    """`start` advanced by the time elapsed since the clock was made."""

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or utcnow()
        self._t0 = _monotonic()

    def now(self) -> datetime:
        """The current time of this run."""
        return self.start + timedelta(seconds=_monotonic() - self._t0)
