"""Riding out a database restart: recognise a lost connection and retry a short write with backoff.

The engine pings a pooled connection before use (`pool_pre_ping`), so a new transaction after a
restart gets a live connection; what this module covers is a transaction that was open while the
server went away, and writes that must not be given up while it comes back (marking an e-mail sent
after the relay accepted it, recording why a run failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_UNAVAILABLE = "databasen var utilgjengelig"


def is_disconnect(exc: BaseException) -> bool:
    """True for a lost or refused database connection (a restart, a failover), not for a bad statement."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    # SQLite's OperationalError also means "no such table": only the PostgreSQL driver's counts here
    return type(exc.orig).__module__.startswith("psycopg")


def retry_on_disconnect(session: Session, write: Callable[[], T], *, what: str, budget_s: float = 120.0) -> T:
    """Run `write` (which commits), and while the database is away roll back and run it again after
    0.5, 1, 2, 4 … (at most 10) seconds, for up to `budget_s`; other errors, and the last one, propagate."""
    deadline = time.monotonic() + budget_s
    pause = 0.5
    while True:
        try:
            return write()
        except Exception as exc:
            if not is_disconnect(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s: %s; trying again in %.1f s", what, DB_UNAVAILABLE, pause)
            try:
                session.rollback()
            except Exception:  # noqa: BLE001 - the connection is gone; the next attempt gets a new one
                log.debug("rollback after a lost connection failed", exc_info=True)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
