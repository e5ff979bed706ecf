"""Token last-used times, written out of band: a read request never takes a write lock for them.

Every bearer-token request used to save `api_tokens.last_used_at` inside the request's own
transaction; on SQLite that held the database's one write lock for the rest of the request, so API
reads ran one at a time. Now the request only notes the use here; a single background thread writes
it in its own short transaction, at most once a minute per token and process.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine

from certmon.auth.models import ApiToken
from certmon.db import utcnow

log = logging.getLogger(__name__)
INTERVAL = timedelta(minutes=1)  # last_used_at is kept to this precision


class UsageRecorder:
    """Notes token uses and writes them, throttled, on a background thread."""

    def __init__(self, interval: timedelta = INTERVAL) -> None:
        self.interval = interval
        self._noted: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certmon-usage")
        self._pending: list[Future[None]] = []

    def note(self, engine: Engine, token_id: int, stored: datetime | None, now: datetime | None = None) -> bool:
        """Record that a token was used now; True if a write was scheduled (at most once per interval)."""
        now = now or utcnow()
        if stored is not None and now - stored < self.interval:
            return False
        with self._lock:
            last = self._noted.get(token_id)
            if last is not None and now - last < self.interval:
                return False
            self._noted[token_id] = now
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(_write, engine, token_id, now))
        return True

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the scheduled writes (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)


def _write(engine: Engine, token_id: int, when: datetime) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))
    except Exception as exc:  # a lost last-used time must never fail anything else
        log.warning("could not record token use: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


recorder = UsageRecorder()
