"""Delivery starts when the match is made: after a transaction that queued alerts commits, the
process's dispatcher is told, and asks for a delivery run at once (the periodic tick stays as the
safety net for anything this misses: a broker outage, a crash between commit and dispatch).

`queue_alerts` notes the notifications it touched on the session (`note_queued`); a listener on
every Session's `after_commit` hands them to the installed dispatcher, and a rollback forgets them.
Nothing is installed by default, so scripts and tests that only queue stay as they were; the API
app (for its lifetime), the Celery worker (at start) and, with a broker, the CLI install
`certmon.notify.soon.deliver_soon` (this module knows nothing of delivery: the outbox imports it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
INFO_KEY = "certmon.queued_notifications"
Dispatcher = Callable[[Session, list[int]], None]
_installed: list[Dispatcher] = []
_lock = threading.Lock()


def note_queued(session: Session, notification_ids: Iterable[int]) -> None:
    """Remember alerts queued in this transaction, to be dispatched when it commits."""
    session.info.setdefault(INFO_KEY, set()).update(notification_ids)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(INFO_KEY, None)
    if not ids or not _installed:
        return
    dispatcher = _installed[-1]
    try:
        dispatcher(session, sorted(ids))
    except Exception as exc:  # the commit stands; the periodic tick delivers instead
        log.warning("could not start delivery of %d alert(s) at once (%s); the next tick sends them",
                    len(ids), type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(INFO_KEY, None)


def install(dispatcher: Dispatcher) -> Callable[[], None]:
    """Make `dispatcher` the process's (`certmon.notify.soon.install` for the real one); returns the
    function that removes it."""
    chosen = dispatcher
    with _lock:
        _installed.append(chosen)

    def uninstall() -> None:
        with _lock:
            if chosen in _installed:
                _installed.remove(chosen)

    return uninstall
