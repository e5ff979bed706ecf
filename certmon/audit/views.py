"""API: the audit log (admins only): who did what, when, to which entity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from certmon.audit.service import list_entries
from certmon.web.deps import Admin, PageDep, SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["revisjonslogg"])


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditRead]
    total: int


@router.get("", response_model=AuditPage)
def audit_log(session: SessionDep, user: Admin, page: PageDep, actor: str | None = None, action: str | None = None,
              entity_type: str | None = None, entity_id: str | None = None,
              since: datetime | None = None) -> AuditPage:
    """Entries newest first; filters `actor`, `action` (a trailing `.` takes a family, e.g. `user.`),
    `entity_type`, `entity_id`, `since`."""
    rows, total = list_entries(session, actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
                               since=since, limit=page.limit, offset=page.offset)
    return AuditPage(items=[AuditRead.model_validate(r) for r in rows], total=total)
