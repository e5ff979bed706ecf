"""Write audit entries (in the caller's transaction) and read them back (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.audit.models import AuditEntry


def record(
    session: Session, *, actor: str, action: str, entity_type: str, entity_id: object, **detail: Any
) -> None:
    """Add an audit entry; never include secrets in `detail`."""
    session.add(
        AuditEntry(actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id), detail=detail)
    )


def list_entries(
    session: Session, *, actor: str | None = None, action: str | None = None, entity_type: str | None = None,
    entity_id: str | None = None, since: datetime | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and the total matching the filters (`action` may end in
    `.` to take a whole family, e.g. `user.`)."""
    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor.strip().lower())
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True) if action.endswith(".")
                          else AuditEntry.action == action)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def actions(session: Session) -> list[str]:
    """The distinct actions recorded so far (for a filter list)."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
