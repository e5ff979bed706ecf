"""Thin, named, idempotent tasks: each opens a session and calls one certmon service."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from certmon.db import session_factory, session_scope, utcnow
from certmon.matching.service import rematch_if_changed
from certmon.sources.models import Source
from workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="feeds.collect_source", acks_late=True)
def collect_source(source_id: int) -> dict[str, Any]:
    """Collect one source; queue delivery of any alerts it produced."""
    from feeds.collect import run_source

    report = run_source(session_factory(), source_id)
    if report.notification_ids:
        send_notifications.delay(report.notification_ids)
    log.info("collected %s: %s, %d items, %d new matches", report.source, report.outcome,
             report.items_total, report.matches_new)
    return asdict(report)


@app.task(name="feeds.schedule_due", acks_late=True)
def schedule_due() -> list[int]:
    """Queue every enabled source whose interval has passed (the schedule lives in the sources table)."""
    now = utcnow()
    due: list[int] = []
    with session_scope() as session:
        for source in session.scalars(select(Source).where(Source.enabled.is_(True))):
            if source.last_run_at is None or source.last_run_at + timedelta(seconds=source.interval_s) <= now:
                source.last_run_at = now  # claimed: not due again until its interval has passed
                due.append(source.id)
    for source_id in due:
        collect_source.delay(source_id)
    return due


@app.task(name="notify.send", acks_late=True)
def send_notifications(notification_ids: list[int]) -> dict[str, Any]:
    """Deliver queued alerts (exactly once per recipient; see certmon.notify.deliver)."""
    from certmon.notify.deliver import deliver_due

    report = deliver_due(session_factory())
    return {"notifications": notification_ids, "sent": len(report.sent), "failed": len(report.failed)}


@app.task(name="notify.deliver_due", acks_late=True)
def deliver_due_task() -> dict[str, Any]:
    """Deliver everything due: retries after backoff and digests whose slot has come."""
    from certmon.notify.deliver import deliver_due

    report = deliver_due(session_factory())
    return {"sent": len(report.sent), "failed": len(report.failed), "rate_limited": report.rate_limited}


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
