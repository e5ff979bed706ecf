"""Delivery state in the database: which deliveries are due, the claim (lease), the outcome, roll-up.

Every write here is a conditional UPDATE so two workers never both own one delivery; the time
passed in must be the real current time of the step (see `certmon.notify.clock`), or a lease taken
late in a long batch would already have run out when it is written.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from certmon.matching.models import Match
from certmon.notify.compose import new_message_id
from certmon.notify.models import Delivery, Notification, NotificationMatch

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=10)


def _ready(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or stuck in `sending` past its lease; never beyond MAX_ATTEMPTS claims."""
    queued = and_(
        Delivery.status == "queued", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
    )
    stale = and_(Delivery.status == "sending", Delivery.next_attempt_at <= now)
    return and_(or_(queued, stale), Delivery.attempts < MAX_ATTEMPTS)


def due_delivery_ids(
    session: Session, *, now: datetime, limit: int, open_windows: bool = False, future_digests: bool = False,
    after_id: int = 0,
) -> list[int]:
    """Deliveries ready to go: queued and due, or stuck in `sending` past their lease (by id, after
    `after_id`: a run pages through them and never meets one it has already tried)."""
    early_modes = [m for m, flag in (("immediate", open_windows), ("digest", future_digests)) if flag]
    slot_due = or_(
        Notification.not_before.is_(None),
        Notification.not_before <= now,
        Notification.mode.in_(early_modes),
    )
    stmt = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id > after_id, Notification.status.in_(("queued", "sending")), slot_due, _ready(now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def fail_exhausted(session: Session, *, now: datetime) -> int:
    """Give up on deliveries whose last allowed attempt died holding its lease; commits."""
    stuck = and_(
        Delivery.status == "sending", Delivery.next_attempt_at <= now, Delivery.attempts >= MAX_ATTEMPTS
    )
    notification_ids = list(session.scalars(select(Delivery.notification_id).where(stuck).distinct()))
    if not notification_ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(stuck)
        .values(status="failed", next_attempt_at=None, last_error=f"gitt opp etter {MAX_ATTEMPTS} forsøk")
        .execution_options(synchronize_session=False)
    )
    for notification_id in notification_ids:
        rollup(session, notification_id=notification_id, now=now)
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def recent_by_domain(session: Session, now: datetime) -> Counter[str]:
    """Messages per recipient domain sent in the last minute or in flight (one query for a batch)."""
    rows = session.scalars(
        select(Delivery.email).where(or_(Delivery.sent_at >= now - timedelta(minutes=1), Delivery.status == "sending"))
    )
    return Counter(email.rpartition("@")[2].lower() for email in rows)


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


def finish(session: Session, delivery: Delivery, now: datetime, **values: object) -> None:
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
