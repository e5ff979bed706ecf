"""The real dispatcher (`certmon.notify.dispatch`): ask for a delivery run as soon as alerts commit.

- with a broker (`CERTMON_BROKER_URL`): the workers' `notify.send` task on the `delivery` queue;
- embedded (no broker): a direct call, `deliver_due` in one background thread per process, which
  runs once more when more was committed while it ran.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from certmon import plugins
from certmon.config import get_settings
from certmon.notify import dispatch
from certmon.notify.deliver import deliver_due

log = logging.getLogger(__name__)


def install() -> Callable[[], None]:
    """Deliver at once after every commit that queued alerts, in this process; returns the undo."""
    return dispatch.install(deliver_soon)


def deliver_soon(session: Session, notification_ids: list[int]) -> None:
    """Ask for a delivery run now: on the broker's delivery queue, or (embedded) in this process."""
    workers = plugins.optional("workers")
    if get_settings().broker_url and workers is not None:
        workers.dispatch_delivery(notification_ids)
        return
    _background.kick(sessionmaker(bind=session.get_bind(), expire_on_commit=False))


class _BackgroundRun:
    """At most one delivery thread per process; a kick while it runs makes it run once more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def kick(self, factory: sessionmaker[Session]) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, args=(factory,), name="certmon-deliver", daemon=True).start()

    def _run(self, factory: sessionmaker[Session]) -> None:
        while True:
            self._again = False
            try:
                report = deliver_due(factory)
                self._again = self._again or report.more
            except Exception:  # logged; the periodic tick tries again
                log.exception("delivery run failed")
            with self._lock:
                if not self._again:
                    self._running = False
                    return


_background = _BackgroundRun()
