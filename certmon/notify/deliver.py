"""Deliver queued alerts exactly once.

Discipline per delivery: (1) claim it — queued→sending with a conditional UPDATE, a lease, and the
Message-ID stored — and COMMIT; (2) talk to SMTP; (3) mark it sent and COMMIT. A worker killed
between (1) and (3) leaves the row in `sending`; once the lease runs out it is sent again with the
SAME Message-ID. Only a kill between the server's 250 and commit (3) can duplicate a message, and
that copy carries the same Message-ID, which mail clients deduplicate (docs/alerts.md).
Every step is stamped with the run clock's current time, so a long batch never writes stale leases.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.config import Settings, get_settings
from certmon.dbretry import DB_UNAVAILABLE, is_disconnect, retry_on_disconnect
from certmon.notify.claims import (
    LEASE,
    MAX_ATTEMPTS,
    claim,
    due_delivery_ids,
    fail_exhausted,
    finish,
    recent_by_domain,
    rollup,
)
from certmon.notify.clock import RunClock
from certmon.notify.compose import build_message
from certmon.notify.content import plan_delivery
from certmon.notify.models import Delivery, Notification
from certmon.notify.ratelimit import relay_bucket
from certmon.notify.smtp import DeliveryError, RelayUnavailable, Transport, transport_from_settings

log = logging.getLogger(__name__)
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
SessionFactory = Callable[[], Session]


@dataclass
class DeliveryReport:
    """What one run did, as (reference, e-mail[, reason]) tuples."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    retrying: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    cancelled: list[tuple[str, str, str]] = field(default_factory=list)
    rate_limited: int = 0
    waited_s: float = 0.0  # time spent waiting for the relay's token bucket
    more: bool = False  # the time budget ran out with deliveries left: run again
    relay_down: str | None = None  # the relay could not be reached: the run stopped, nothing was charged


def _pause_for_tests(point: str) -> None:
    # Test-only hook for the fault tests: stop once at a named point (marked by the pause file) so the
    # test can SIGKILL us there or restart the database under us.
    if os.environ.get("CERTMON_TEST_PAUSE_AT") == point:
        marker = os.environ.get("CERTMON_TEST_PAUSE_FILE", "")
        if marker:
            if os.path.exists(marker):
                return
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
        time.sleep(float(os.environ.get("CERTMON_TEST_PAUSE_S", "120")))


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _prepare(session: Session, delivery: Delivery, settings: Settings, now: datetime) -> EmailMessage | str:
    planned = plan_delivery(session, delivery, settings)
    if planned.content is None:
        return planned.cancel_reason or "cancelled"
    assert delivery.message_id is not None
    return build_message(
        planned.content,
        to=delivery.email,
        mail_from=settings.mail_from,
        message_id=delivery.message_id,
        date=now,
    )


def deliver_one(
    session_factory: SessionFactory,
    delivery_id: int,
    *,
    transport: Transport,
    settings: Settings,
    now: datetime | None = None,
    report: DeliveryReport | None = None,
    clock: RunClock | None = None,
) -> DeliveryReport:
    """Claim, render, send and record one delivery (each step in its own committed transaction).

    Any unexpected error after the claim is recorded on the delivery (retried with backoff, failed
    after MAX_ATTEMPTS) instead of propagating, so one bad delivery cannot stop a batch.
    """
    clock = clock or RunClock(now)
    report = report if report is not None else DeliveryReport()
    with session_factory() as session:
        lease = timedelta(seconds=settings.delivery_lease_s)
        if not claim(
            session, delivery_id=delivery_id, now=clock.now(), mail_from=settings.mail_from, lease=lease
        ):
            return report
        try:
            _send_claimed(session, delivery_id, transport, settings, clock, report)
        except Exception as exc:  # noqa: BLE001 - recorded per delivery; the batch goes on
            _record_crash(session, delivery_id, exc, clock, report)
    return report


def _send_claimed(
    session: Session,
    delivery_id: int,
    transport: Transport,
    settings: Settings,
    clock: RunClock,
    report: DeliveryReport,
) -> None:
    _pause_for_tests("claimed")
    delivery = session.get(Delivery, delivery_id, populate_existing=True)
    assert delivery is not None
    reference = session.scalar(select(Notification.reference).where(Notification.id == delivery.notification_id))
    label = (reference or "", delivery.email)
    prepared = _prepare(session, delivery, settings, clock.now())
    if isinstance(prepared, str):
        finish(session, delivery, clock.now(), status="cancelled", last_error=prepared, next_attempt_at=None)
        report.cancelled.append((*label, prepared))
        return
    delivery.subject = str(prepared["Subject"])[:300]
    session.commit()  # keeps the TLP/withheld and the subject actually sent
    try:
        transport.send(prepared)
    except RelayUnavailable as exc:  # not this e-mail's fault: back in the queue as it was, run stops
        _release(session, delivery, exc.reason, clock)
        report.relay_down = exc.reason
        return
    except DeliveryError as exc:
        _record_failure(session, delivery, exc, clock.now(), report, label)
        return
    _pause_for_tests("sent")
    sent_at = clock.now()
    # The relay has it: this must be written, or the lease would send it again. A database restart
    # is waited out (pool_pre_ping gives the retry a live connection).
    retry_on_disconnect(session, lambda: finish(session, delivery, sent_at, status="sent", sent_at=sent_at,
                                                last_error=None, next_attempt_at=None),
                        what=f"delivery {delivery_id} sent", budget_s=min(settings.delivery_lease_s / 2, 300))
    _pause_for_tests("marked")
    report.sent.append(label)


def _record_failure(
    session: Session,
    delivery: Delivery,
    exc: DeliveryError,
    now: datetime,
    report: DeliveryReport,
    label: tuple[str, str],
) -> None:
    if exc.transient and delivery.attempts < MAX_ATTEMPTS:
        wait = BACKOFF_MINUTES[min(delivery.attempts, len(BACKOFF_MINUTES)) - 1]
        finish(
            session,
            delivery,
            now,
            status="queued",
            last_error=exc.reason,
            next_attempt_at=now + timedelta(minutes=wait),
        )
        report.retrying.append((*label, exc.reason))
    else:
        finish(session, delivery, now, status="failed", last_error=exc.reason, next_attempt_at=None)
        report.failed.append((*label, exc.reason))


def _release(session: Session, delivery: Delivery, reason: str, clock: RunClock) -> None:
    """Give a claimed, unsent delivery back as it was (due now, the attempt not counted): the fault was
    the relay's or the database's, not this e-mail's, and should not bring it closer to giving up."""
    retry_on_disconnect(session, lambda: finish(session, delivery, clock.now(), status="queued",
                                                attempts=Delivery.attempts - 1, last_error=reason,
                                                next_attempt_at=None),
                        what=f"delivery {delivery.id} released")


def _record_crash(
    session: Session, delivery_id: int, exc: Exception, clock: RunClock, report: DeliveryReport
) -> None:
    """An unexpected error while holding the claim: log it by id and treat it as transient; a lost
    database connection (nothing was sent) gives the delivery back untouched once the database is back."""
    if is_disconnect(exc):
        log.warning("delivery %s: %s before it was sent; back in the queue", delivery_id, DB_UNAVAILABLE)
        try:
            session.rollback()
            delivery = retry_on_disconnect(
                session, lambda: session.get(Delivery, delivery_id, populate_existing=True),
                what=f"delivery {delivery_id}")
            if delivery is not None:
                _release(session, delivery, DB_UNAVAILABLE, clock)
        except Exception as again:  # noqa: BLE001 - still down: the lease runs out and it is sent then
            session.rollback()
            log.error("delivery %s: could not give it back (%s)", delivery_id, type(again).__name__)
        return
    reason = f"intern feil: {type(exc).__name__}"
    # The id and the exception class only: messages may quote addresses or configuration.
    log.error("delivery %s failed before it was sent (%s)", delivery_id, type(exc).__name__)
    log.debug("delivery %s traceback", delivery_id, exc_info=exc)
    try:
        session.rollback()
        delivery = session.get(Delivery, delivery_id, populate_existing=True)
        if delivery is None:
            return
        reference = session.scalar(
            select(Notification.reference).where(Notification.id == delivery.notification_id)
        )
        err = DeliveryError(reason, transient=True)
        _record_failure(session, delivery, err, clock.now(), report, (reference or "", delivery.email))
    except Exception as again:  # noqa: BLE001 - the lease runs out and the claim cap still applies
        session.rollback()
        log.error("delivery %s: could not record the failure (%s)", delivery_id, type(again).__name__)


BATCH = 200


def deliver_due(
    session_factory: SessionFactory,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    open_windows: bool = False,
    future_digests: bool = False,
    transport: Transport | None = None,
    settings: Settings | None = None,
    batch: int = BATCH,
    budget_s: float | None = None,
) -> DeliveryReport:
    """Send every due delivery, batch after batch, until none is left, `limit` have been tried or
    the time budget (CERTMON_DELIVERY_BUDGET_S) is spent (then `report.more` is set), honouring the
    per-domain rate limit and the relay's token bucket.

    `now` sets the start time (tests travel in time); each step uses it plus the real time elapsed.
    """
    settings = settings or get_settings()
    clock = RunClock(now)
    deadline = time.monotonic() + (settings.delivery_budget_s if budget_s is None else budget_s)
    report = DeliveryReport()
    own_transport = transport is None
    transport = transport or transport_from_settings(settings)
    bucket = relay_bucket(settings)
    after, tried = 0, 0
    try:
        with session_factory() as session:
            fail_exhausted(session, now=clock.now())
        while limit is None or tried < limit:
            size = batch if limit is None else min(batch, limit - tried)
            with session_factory() as session:
                ids = due_delivery_ids(session, now=clock.now(), limit=size, open_windows=open_windows,
                                       future_digests=future_digests, after_id=after)
                rows = session.execute(select(Delivery.id, Delivery.email).where(Delivery.id.in_(ids)))
                emails = {row[0]: row[1] for row in rows}
                sent_now = recent_by_domain(session, clock.now())
            if not ids:
                break
            after = ids[-1]
            for delivery_id in ids:
                if time.monotonic() >= deadline:
                    report.more = True
                    return report
                tried += 1
                domain = _domain(emails[delivery_id])
                if sent_now[domain] >= settings.mail_rate_per_domain:
                    report.rate_limited += 1
                    continue
                sent_now[domain] += 1
                if bucket is not None:
                    report.waited_s += bucket.take()
                deliver_one(session_factory, delivery_id, transport=transport, settings=settings, clock=clock,
                            report=report)
                if report.relay_down:  # the rest would fail the same way; the task tries again later
                    log.warning("SMTP relay unreachable (%s); delivery paused", report.relay_down)
                    return report
    finally:
        if own_transport:
            transport.close()
    return report


from certmon.notify.reminders import send_reminders  # noqa: E402  (re-exported: the send task's second job)

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "DeliveryReport",
    "claim",
    "deliver_due",
    "deliver_one",
    "due_delivery_ids",
    "rollup",
    "send_reminders",
]
