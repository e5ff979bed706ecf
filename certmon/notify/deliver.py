"""Deliver queued alerts exactly once.

Discipline per delivery: (1) claim it — queued→sending with a conditional UPDATE, a lease, and the
Message-ID stored — and COMMIT; (2) talk to SMTP; (3) mark it sent and COMMIT. A worker killed
between (1) and (3) leaves the row in `sending`; once the lease runs out it is sent again with the
SAME Message-ID. Only a kill between the server's 250 and commit (3) can duplicate a message, and
that copy carries the same Message-ID, which mail clients deduplicate (docs/alerts.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from certmon.config import Settings, get_settings
from certmon.db import utcnow
from certmon.matching.models import Match
from certmon.notify.compose import build_message, new_message_id
from certmon.notify.content import plan_delivery
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.smtp import DeliveryError, Transport, transport_from_settings

BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=10)
SessionFactory = Callable[[], Session]


@dataclass
class DeliveryReport:
    """What one run did, as (reference, e-mail[, reason]) tuples."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    retrying: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    cancelled: list[tuple[str, str, str]] = field(default_factory=list)
    rate_limited: int = 0


def _pause_for_tests(point: str) -> None:
    # Test-only hook for the crash-recovery test: stop at a named point so the test can SIGKILL us.
    if os.environ.get("CERTMON_TEST_PAUSE_AT") == point:
        marker = os.environ.get("CERTMON_TEST_PAUSE_FILE", "")
        if marker:
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
        time.sleep(120)


def _ready(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or stuck in `sending` past its lease (the worker holding it died)."""
    queued = and_(
        Delivery.status == "queued", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
    )
    return or_(queued, and_(Delivery.status == "sending", Delivery.next_attempt_at <= now))


def due_delivery_ids(
    session: Session, *, now: datetime, limit: int, open_windows: bool = False, future_digests: bool = False
) -> list[int]:
    """Deliveries ready to go: queued and due, or stuck in `sending` past their lease."""
    early_modes = [m for m, flag in (("immediate", open_windows), ("digest", future_digests)) if flag]
    slot_due = or_(
        Notification.not_before.is_(None),
        Notification.not_before <= now,
        Notification.mode.in_(early_modes),
    )
    stmt = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.status.in_(("queued", "sending")), slot_due, _ready(now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _recent_to_domain(session: Session, domain: str, now: datetime) -> int:
    stmt = select(func.count(Delivery.id)).where(
        func.lower(Delivery.email).like(f"%@{domain}"),
        or_(Delivery.sent_at >= now - timedelta(minutes=1), Delivery.status == "sending"),
    )
    return int(session.scalar(stmt) or 0)


def claim(
    session: Session, *, delivery_id: int, now: datetime, mail_from: str, lease: timedelta = LEASE
) -> bool:
    """queued→sending with a lease and a Message-ID; commits. False if someone else holds it."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, _ready(now))
        .values(
            status="sending",
            attempts=Delivery.attempts + 1,
            next_attempt_at=now + lease,
            message_id=func.coalesce(Delivery.message_id, new_message_id(mail_from)),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    notification_id = session.scalar(select(Delivery.notification_id).where(Delivery.id == delivery_id))
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "queued")
        .values(status="sending")
    )
    session.commit()
    return True


def _finish(session: Session, delivery: Delivery, now: datetime, **values: object) -> None:
    """Write the outcome only if we still hold the claim, then roll the notification up; commits."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.status == "sending",
            Delivery.message_id == delivery.message_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if values.get("status") == "sent":
        match_ids = select(NotificationMatch.match_id).where(
            NotificationMatch.notification_id == delivery.notification_id
        )
        session.execute(
            update(Match)
            .where(Match.id.in_(match_ids), Match.notified_at.is_(None))
            .values(notified_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Match)
            .where(Match.id.in_(match_ids), Match.status.in_(("new", "confirmed")))
            .values(status="notified")
            .execution_options(synchronize_session=False)
        )
    rollup(session, notification_id=delivery.notification_id, now=now)
    session.commit()


def rollup(session: Session, *, notification_id: int, now: datetime) -> str:
    """A notification's status from its deliveries: sent when any went, failed when none could."""
    notification = session.get(Notification, notification_id)
    assert notification is not None
    session.expire(notification)
    statuses = list(
        session.scalars(select(Delivery.status).where(Delivery.notification_id == notification_id))
    )
    if any(s in ("queued", "sending") for s in statuses) or notification.status not in ("queued", "sending"):
        return notification.status
    if "sent" in statuses:
        notification.status = "sent"
        last = session.scalar(
            select(func.max(Delivery.sent_at)).where(Delivery.notification_id == notification_id)
        )
        notification.sent_at = notification.sent_at or last or now
    else:
        notification.status = "cancelled" if all(s == "cancelled" for s in statuses) else "failed"
    return notification.status


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
) -> DeliveryReport:
    """Claim, render, send and record one delivery (each step in its own committed transaction)."""
    now = now or utcnow()
    report = report if report is not None else DeliveryReport()
    with session_factory() as session:
        lease = timedelta(seconds=settings.delivery_lease_s)
        if not claim(session, delivery_id=delivery_id, now=now, mail_from=settings.mail_from, lease=lease):
            return report
        _pause_for_tests("claimed")
        delivery = session.get(Delivery, delivery_id, populate_existing=True)
        assert delivery is not None
        reference = session.scalar(
            select(Notification.reference).where(Notification.id == delivery.notification_id)
        )
        label = (reference or "", delivery.email)
        prepared = _prepare(session, delivery, settings, now)
        if isinstance(prepared, str):
            _finish(session, delivery, now, status="cancelled", last_error=prepared, next_attempt_at=None)
            report.cancelled.append((*label, prepared))
            return report
        session.commit()  # keeps the TLP/withheld actually sent
        try:
            transport.send(prepared)
        except DeliveryError as exc:
            _record_failure(session, delivery, exc, now, report, label)
            return report
        _pause_for_tests("sent")
        _finish(session, delivery, now, status="sent", sent_at=now, last_error=None, next_attempt_at=None)
        _pause_for_tests("marked")
        report.sent.append(label)
    return report


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
        _finish(
            session,
            delivery,
            now,
            status="queued",
            last_error=exc.reason,
            next_attempt_at=now + timedelta(minutes=wait),
        )
        report.retrying.append((*label, exc.reason))
    else:
        _finish(session, delivery, now, status="failed", last_error=exc.reason, next_attempt_at=None)
        report.failed.append((*label, exc.reason))


def deliver_due(
    session_factory: SessionFactory,
    *,
    now: datetime | None = None,
    limit: int = 100,
    open_windows: bool = False,
    future_digests: bool = False,
    transport: Transport | None = None,
    settings: Settings | None = None,
) -> DeliveryReport:
    """Send every due delivery (up to `limit`), honouring the per-domain rate limit."""
    settings = settings or get_settings()
    now = now or utcnow()
    report = DeliveryReport()
    own_transport = transport is None
    transport = transport or transport_from_settings(settings)
    sent_now: dict[str, int] = {}
    try:
        with session_factory() as session:
            ids = due_delivery_ids(
                session, now=now, limit=limit, open_windows=open_windows, future_digests=future_digests
            )
            rows = session.execute(select(Delivery.id, Delivery.email).where(Delivery.id.in_(ids)))
            emails = {row[0]: row[1] for row in rows}
            for domain in {_domain(e) for e in emails.values()}:
                sent_now[domain] = _recent_to_domain(session, domain, now)
        for delivery_id in ids:
            domain = _domain(emails[delivery_id])
            if sent_now[domain] >= settings.mail_rate_per_domain:
                report.rate_limited += 1
                continue
            sent_now[domain] += 1
            deliver_one(
                session_factory, delivery_id, transport=transport, settings=settings, now=now, report=report
            )
    finally:
        if own_transport:
            transport.close()
    return report


from certmon.notify.reminders import send_reminders  # noqa: E402  (re-exported: the send task's second job)

__all__ = [
    "DeliveryReport",
    "claim",
    "deliver_due",
    "deliver_one",
    "due_delivery_ids",
    "rollup",
    "send_reminders",
]
