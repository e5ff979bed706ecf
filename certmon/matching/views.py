"""API: matches (treff) with filters, and triage actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from certmon.errors import NotFound
from certmon.items.models import StoredItem
from certmon.matching import service
from certmon.matching.service import TRIAGE
from certmon.registry.models import Constituent
from certmon.registry.service import display_name
from certmon.schema_types import documented
from certmon.web.deps import Analyst, DbId, DbIdFilter, PageDep, Reader, SessionDep, user_clearance

router = APIRouter(prefix="/api/v1/matches", tags=["treff"])


class MatchRead(BaseModel):
    id: int
    item_id: int
    item_key: str
    item_kind: str
    item_title: str | None
    item_value: str | None
    tlp: str
    constituent_id: int
    constituent: str
    org_number: str | None
    rule: str
    asset: str
    confidence: int
    explanation: str
    severity: str
    status: str
    status_reason: str | None
    product_status: str | None = None  # product matches: affected | under_investigation (the vendor's word)
    created_at: datetime


class MatchPage(BaseModel):
    items: list[MatchRead]
    total: int


class TriageBody(BaseModel):
    action: Annotated[str, documented(TRIAGE)]  # confirm | false-positive | reopen | close
    reason: str | None = None


def _read(m, item, c) -> MatchRead:  # type: ignore[no-untyped-def]
    return MatchRead(id=m.id, item_id=item.id, item_key=item.key, item_kind=item.kind,
                     item_title=item.title, item_value=item.value or item.ip or item.cve, tlp=item.tlp,
                     constituent_id=c.id, constituent=display_name(c), org_number=c.org_number,
                     rule=m.rule, asset=m.asset, confidence=m.confidence, explanation=m.explanation,
                     severity=m.severity, status=m.status, status_reason=m.status_reason,
                     product_status=m.product_status, created_at=m.created_at)


@router.get("", response_model=MatchPage)
def list_matches(session: SessionDep, user: Reader, page: PageDep, constituent_id: DbIdFilter = None,
                 rule: str | None = None, status: str | None = None, severity: str | None = None,
                 source_id: DbIdFilter = None, since: datetime | None = None,
                 sort: Literal["time", "severity", "organisation", "source"] = "time") -> MatchPage:
    """Matches, newest first (or `sort=severity`: most severe, then known exploited, then newest;
    `organisation`; `source`), filtered by constituent, rule, status, severity, source and date."""
    rows, total = service.list_matches(session, tlp_max=int(user_clearance(user)),
                                       constituent_id=constituent_id, rule=rule, status=status,
                                       severity=severity, source_id=source_id, since=since,
                                       limit=page.limit, offset=page.offset, sort=sort)
    return MatchPage(items=[_read(*r) for r in rows], total=total)


@router.post("/{match_id}/triage", response_model=MatchRead)
def triage(match_id: DbId, body: TriageBody, session: SessionDep, user: Analyst) -> MatchRead:
    """Confirm, mark false positive (reason required), reopen or close; audited."""
    m = service.triage(session, match_id=match_id, action=body.action, actor=user.email, reason=body.reason)
    item = session.get_one(StoredItem, m.item_id)
    if item.tlp_rank > int(user_clearance(user)):
        raise NotFound(f"fant ingen treff med id {match_id}")
    return _read(m, item, session.get_one(Constituent, m.constituent_id))
