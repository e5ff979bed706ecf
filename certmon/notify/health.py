"""How the outbox is doing: what waits to be sent and for how long (for /metrics and the dashboard).

An alert counts as waiting once it is due (its grouping window or digest slot has come) and its
delivery is still queued or being sent; its age runs from the moment it became due, so an alert
held back on purpose by its window is not counted as late, and one stuck behind a dead relay is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.notify.models import Delivery, Notification

WAITING = ("queued", "sending")


@dataclass(frozen=True)
class OutboxHealth:
    """Due deliveries not yet sent, how many of them failed at least once, and the oldest one's age."""

    waiting: int
    retrying: int
    oldest_age_s: float
    last_error: str | None


def outbox_health(session: Session, *, now: datetime | None = None) -> OutboxHealth:
    """The outbox's state now (two small aggregate queries, index on deliveries.status)."""
    now = now or utcnow()
    due = (Delivery.status.in_(WAITING), Notification.status.in_(WAITING),
           or_(Notification.not_before.is_(None), Notification.not_before <= now))
    became_due = func.coalesce(Notification.not_before, Delivery.created_at)
    waiting, retrying, oldest = session.execute(
        select(func.count(), func.count().filter(Delivery.attempts > 0), func.min(became_due))
        .select_from(Delivery).join(Notification, Notification.id == Delivery.notification_id).where(*due)
    ).one()
    last_error = None
    if retrying:
        last_error = session.scalar(
            select(Delivery.last_error).join(Notification, Notification.id == Delivery.notification_id)
            .where(*due, Delivery.last_error.is_not(None)).order_by(Delivery.id.desc()).limit(1))
    age = 0.0
    if oldest is not None:
        if isinstance(oldest, str):  # SQLite may hand back the stored text
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = max((now - oldest).total_seconds(), 0.0)
    return OutboxHealth(waiting=int(waiting), retrying=int(retrying), oldest_age_s=age, last_error=last_error)
