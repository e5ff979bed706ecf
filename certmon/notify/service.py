"""Read and act on notifications: list, detail with deliveries, resend, record a constituent's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import may_handle
from certmon.db import utcnow
from certmon.errors import Conflict, NotFound
from certmon.matching.models import Match
from certmon.notify.content import origin_of
from certmon.notify.links import ANSWERS
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.tlp import TLP

# Notification.tlp as its rank, in SQL (unknown labels count as RED, as parse_tlp's default does).
notification_tlp_rank = case({t.value_str: int(t) for t in TLP}, value=Notification.tlp, else_=int(TLP.RED))


def list_notifications(
    session: Session,
    *,
    status: str | None = None,
    constituent_id: int | None = None,
    tlp_max: TLP | None = None,
    unanswered: bool = False,
    severity: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Notification], int]:
    """A page of notifications (newest first) and the total matching the filters.

    `tlp_max` (the reader's clearance) leaves out alerts labelled above it, in SQL. `unanswered`
    keeps the sent alerts (not reminders) the organisation has not answered yet.
    """
    stmt = select(Notification)
    if unanswered:
        stmt = stmt.where(Notification.status == "sent", Notification.mode != "reminder",
                          Notification.response.is_(None))
    if tlp_max is not None:
        stmt = stmt.where(notification_tlp_rank <= int(tlp_max))
    if status:
        stmt = stmt.where(Notification.status == status)
    if constituent_id is not None:
        stmt = stmt.where(Notification.constituent_id == constituent_id)
    if severity:
        stmt = stmt.where(Notification.severity == severity)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def get_notification(session: Session, *, notification_id: int) -> Notification:
    """One notification or NotFound."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(f"varsel {notification_id} finnes ikke")
    return notification


def deliveries_of(session: Session, *, notification_id: int) -> list[Delivery]:
    """Its recipients with status, attempts and errors."""
    return list(
        session.scalars(
            select(Delivery).where(Delivery.notification_id == notification_id).order_by(Delivery.id)
        )
    )


def match_ids_of(session: Session, *, notification_id: int) -> list[int]:
    """The matches an alert reports."""
    return list(
        session.scalars(
            select(NotificationMatch.match_id)
            .where(NotificationMatch.notification_id == notification_id)
            .order_by(NotificationMatch.match_id)
        )
    )


def notification_detail(session: Session, *, notification_id: int) -> dict[str, Any]:
    """Notification, deliveries and match ids as plain data (for the API and dashboard)."""
    n = get_notification(session, notification_id=notification_id)
    return {
        "notification": n,
        "deliveries": deliveries_of(session, notification_id=notification_id),
        "match_ids": match_ids_of(session, notification_id=notification_id),
    }


def resend(
    session: Session, *, notification_id: int, user: User, delivery_ids: list[int] | None = None
) -> list[Delivery]:
    """Queue the chosen (default: failed or cancelled) deliveries again with fresh Message-IDs; audited.

    An alert above the user's clearance answers as missing (its recipients are not revealed)."""
    n = get_notification(session, notification_id=notification_id)
    if not may_handle(user, n.tlp, n.constituent_id):
        raise NotFound(f"varsel {notification_id} finnes ikke")
    if n.status in ("queued", "held", "awaiting_approval"):
        raise Conflict(f"varsel {n.reference} er ikke sendt ennå")
    chosen = [
        d
        for d in deliveries_of(session, notification_id=notification_id)
        if (delivery_ids is not None and d.id in delivery_ids)
        or (delivery_ids is None and d.status in ("failed", "cancelled"))
    ]
    if not chosen:
        raise Conflict(f"varsel {n.reference}: ingen mottakere å sende på nytt")
    for d in chosen:
        if d.status == "sending":
            raise Conflict(f"{d.email}: sendes nå")
        d.status, d.attempts, d.next_attempt_at, d.last_error, d.message_id = "queued", 0, None, None, None
    n.status = "sending"  # never `queued`: a resent alert must not take in new matches
    record(
        session,
        actor=user.email,
        action="notification.resend",
        entity_type="notification",
        entity_id=n.id,
        reference=n.reference,
        recipients=[d.email for d in chosen],
    )
    session.flush()
    return chosen


def record_response(
    session: Session,
    *,
    notification_id: int,
    answer: str,
    now: datetime | None = None,
    actor: str = "svar-lenke",
) -> Notification:
    """Record mottatt / utbedret / ikke-relevant on the alert and its matches (idempotent); audited."""
    if answer not in ANSWERS:
        raise NotFound(f"ukjent svar {answer!r}")
    now = now or utcnow()
    n = origin_of(session, get_notification(session, notification_id=notification_id))
    n.response = answer
    n.acknowledged_at = n.acknowledged_at or now
    ids = select(NotificationMatch.match_id).where(NotificationMatch.notification_id == n.id)
    session.execute(
        update(Match)
        .where(Match.id.in_(ids), Match.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .execution_options(synchronize_session=False)
    )
    values: dict[str, Any] = {"response": answer}
    if answer == "utbedret":
        session.execute(
            update(Match)
            .where(Match.id.in_(ids), Match.fixed_at.is_(None))
            .values(fixed_at=now)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(Match).where(Match.id.in_(ids)).values(**values).execution_options(synchronize_session=False)
    )
    record(
        session,
        actor=actor,
        action="notification.response",
        entity_type="notification",
        entity_id=n.id,
        reference=n.reference,
        answer=answer,
    )
    session.flush()
    return n
