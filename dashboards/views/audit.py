"""Revisjonslogg: the audit log for admins, filterable and paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certmon.audit.service import actions, list_entries
from certmon.web.deps import SessionDep
from dashboards.web import Admin, Pager, page_params, render

router = APIRouter(include_in_schema=False)
LIMIT = 50
PERIODS = {"1": 1, "7": 7, "30": 30, "365": 365}  # days back, for the filter


@router.get("/revisjon")
def audit_page(request: Request, session: SessionDep, user: Admin, actor: str = "", action: str = "",
               entity_type: str = "", entity_id: str = "", dager: str = "", offset: int = 0) -> Response:
    """Who did what and when: triage, alerts, answers, access, exports, sources and assets."""
    offset, _limit = page_params(offset)
    since = datetime.now(UTC) - timedelta(days=PERIODS[dager]) if dager in PERIODS else None
    rows, total = list_entries(session, actor=actor or None, action=action or None,
                               entity_type=entity_type or None, entity_id=entity_id or None, since=since,
                               limit=LIMIT, offset=min(offset, 10_000_000))
    return render(request, user, "audit.html", rows=rows, total=total, pager=Pager(request, total, LIMIT, offset),
                  actions=actions(session), periods=PERIODS,
                  filters={"actor": actor, "action": action, "entity_type": entity_type, "entity_id": entity_id,
                           "dager": dager})
