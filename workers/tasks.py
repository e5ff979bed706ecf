"""Thin, named, idempotent tasks: each opens a session and calls one certmon service."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import Task
from celery.signals import worker_init
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from certmon.db import session_factory, session_scope, utcnow
from certmon.matching.service import rematch_if_changed
from certmon.sources.models import Source
from certmon.sources.service import is_push_only
from workers.celery_app import DELIVERY_QUEUE, app

if TYPE_CHECKING:
    from certmon.notify.deliver import DeliveryReport

log = logging.getLogger(__name__)


# A lost database connection fails the run before anything is sent or after everything sent was
# recorded (certmon.notify.deliver): run it again after 2, 4, 8 … 60 s; the periodic tick stays the net.
DB_RETRY: dict[str, Any] = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 2,
                            "retry_backoff_max": 60, "retry_jitter": False, "max_retries": 8}
RELAY_RETRIES = 6  # relay unreachable: again after 5, 10, 20, 40, 60, 60 s, then the tick takes over
COLLECT_RETRIES = 4  # a run the database dropped: again after 5, 10, 20, 40 s


@worker_init.connect
def _deliver_on_commit(**_: object) -> None:
    """In the worker, a committed transaction that queued alerts asks for delivery at once."""
    from certmon.notify import soon

    soon.install()


@app.task(name="feeds.collect_source", acks_late=True, bind=True, **DB_RETRY)
def collect_source(self: Task, source_id: int) -> dict[str, Any]:
    """Collect one source; the alerts it queued are dispatched for delivery as its transaction commits.
    A run the database dropped (recorded as failed, nothing stored) is run again with backoff."""
    from feeds.collect import run_source

    report = run_source(session_factory(), source_id)  # its commit starts the delivery (notify.dispatch)
    log.info("collected %s: %s, %d items, %d new matches", report.source, report.outcome,
             report.items_total, report.matches_new)
    if report.retry and self.request.retries < COLLECT_RETRIES:
        self.retry(countdown=min(5 * 2 ** self.request.retries, 60), max_retries=COLLECT_RETRIES, throw=False)
    return asdict(report)


@app.task(name="feeds.schedule_due", acks_late=True)
def schedule_due() -> list[int]:
    """Queue every enabled source whose interval has passed (the schedule lives in the sources table)."""
    now = utcnow()
    due: list[int] = []
    with session_scope() as session:
        for source in session.scalars(select(Source).where(Source.enabled.is_(True))):
            if is_push_only(source):  # fed by pushes only: nothing to fetch
                continue
            if source.last_run_at is None or source.last_run_at + timedelta(seconds=source.interval_s) <= now:
                source.last_run_at = now  # claimed: not due again until its interval has passed
                due.append(source.id)
    for source_id in due:
        collect_source.delay(source_id)
    return due




@app.task(name="notify.send", acks_late=True, bind=True, **DB_RETRY)
def send_notifications(self: Task, notification_ids: list[int]) -> dict[str, Any]:
    """Deliver queued alerts (exactly once per recipient; see certmon.notify.deliver)."""
    report = _drain(self)
    return {"notifications": notification_ids, "sent": len(report.sent), "failed": len(report.failed)}


@app.task(name="notify.deliver_due", acks_late=True, bind=True, **DB_RETRY)
def deliver_due_task(self: Task) -> dict[str, Any]:
    """Deliver everything due: retries after backoff and digests whose slot has come."""
    report = _drain(self)
    return {"sent": len(report.sent), "failed": len(report.failed), "rate_limited": report.rate_limited}


def _drain(task: Task) -> DeliveryReport:
    """One delivery run (no cap); when its time budget ran out with alerts left, queue the next at once;
    when the relay could not be reached, try again with backoff (nothing was charged to the alerts)."""
    from certmon.notify.deliver import deliver_due

    report = deliver_due(session_factory())
    try:
        if report.relay_down and task.request.retries < RELAY_RETRIES:
            countdown = min(5 * 2 ** task.request.retries, 60)
            task.retry(countdown=countdown, max_retries=RELAY_RETRIES, throw=False)
        elif report.more:
            send_notifications.apply_async(args=[[]], queue=DELIVERY_QUEUE)
    except Exception as exc:  # the broker is away: what is left waits for the periodic tick
        log.warning("could not queue the next delivery run (%s); the tick sends the rest", type(exc).__name__)
    return report


@app.task(name="notify.send_reminders", acks_late=True)
def send_reminders_task() -> int:
    """Remind constituents of unanswered alerts above the configured severity."""
    from certmon.notify.deliver import send_reminders

    with session_scope() as session:
        return len(send_reminders(session, now=utcnow()) or [])


@app.task(name="matching.rematch_if_changed", acks_late=True)
def rematch_if_changed_task() -> dict[str, int]:
    """Re-match stored items when the registry has changed since the last re-match."""
    run = rematch_if_changed(session_factory())
    return {"new": len(run.new_ids), "retired": run.retired} if run else {"new": 0, "retired": 0}
