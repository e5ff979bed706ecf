"""Remind constituents who have not answered an alert above a severity after a configurable time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.policy import load_policy, severity_rank


def send_reminders(session: Session, *, now: datetime | None = None) -> list[Notification]:
    """Queue one reminder per unanswered, sent alert that is old and severe enough; caller commits."""
    now = now or utcnow()
    policy = load_policy(session)
    cutoff = now - timedelta(hours=policy.reminder_after_hours)
    candidates = session.scalars(
        select(Notification)
        .where(
            Notification.status == "sent",
            Notification.mode.in_(("immediate", "digest")),
            Notification.acknowledged_at.is_(None),
            Notification.response.is_(None),
            Notification.reminded_at.is_(None),
            Notification.sent_at <= cutoff,
        )
        .order_by(Notification.id)
    ).all()
    threshold = severity_rank(policy.reminder_min_severity)
    reminders = []
    for original in candidates:
        if severity_rank(original.severity) < threshold:
            continue
        reminder = Notification(
            reference=f"{original.reference}-P1",
            constituent_id=original.constituent_id,
            mode="reminder",
            tlp=original.tlp,
            severity=original.severity,
            status="queued",
            created_at=now,
            dedupe_key=f"reminder:{original.id}",
            subject=original.subject,
        )
        session.add(reminder)
        session.flush()
        for match_id in session.scalars(
            select(NotificationMatch.match_id).where(NotificationMatch.notification_id == original.id)
        ):
            session.add(NotificationMatch(notification_id=reminder.id, match_id=match_id))
        for d in session.scalars(
            select(Delivery).where(Delivery.notification_id == original.id, Delivery.status == "sent")
        ):
            session.add(
                Delivery(
                    notification_id=reminder.id,
                    contact_id=d.contact_id,
                    email=d.email,
                    language=d.language,
                    tlp=d.tlp,
                    withheld=d.withheld,
                    status="queued",
                )
            )
        original.reminded_at = now
        reminders.append(reminder)
    session.flush()
    return reminders
