"""Write audit entries (in the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from certmon.audit.models import AuditEntry


def record(
    session: Session, *, actor: str, action: str, entity_type: str, entity_id: object, **detail: Any
) -> None:
    """Add an audit entry; never include secrets in `detail`."""
    session.add(
        AuditEntry(actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id), detail=detail)
    )
