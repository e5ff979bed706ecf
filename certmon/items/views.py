"""API: advisories, vulnerabilities, indicators and exposures (TLP-filtered by the reader's clearance)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from certmon.errors import NotFound
from certmon.items.models import StoredItem
from certmon.items.search import COUNT_CAP
from certmon.items.service import list_page
from certmon.web.deps import DbId, DbIdFilter, Reader, SessionDep, user_clearance

router = APIRouter(prefix="/api/v1", tags=["elementer"])
SearchText = Annotated[str | None, Query(max_length=200, description=(
    "A substring of the title, value, CVE id or key, any case (indexed from three characters)."))]


class ItemRead(BaseModel):
    """A stored item as the API shows it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    key: str
    tlp: str
    source_id: int
    source_format: str
    title: str | None
    summary: str | None
    url: str | None
    published_at: datetime | None
    severity: str | None
    cve: str | None
    known_exploited: bool
    cvss: float | None
    indicator_type: str | None
    value: str | None
    confidence: int | None
    ip: str | None
    port: int | None
    report_type: str | None
    first_seen: datetime
    last_seen: datetime


class ItemDetail(ItemRead):
    data: dict[str, Any]


class ItemPage(BaseModel):
    items: list[ItemRead]
    total: int = Field(description=f"Exact up to {COUNT_CAP:,} items; beyond that an estimate "
                                   "(`total_exact` false).")
    total_exact: bool = True
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page (newest first); "
                                                      "null on the last page. Deep pages cost what the first does.")


MAX_OFFSET = 10_000  # deeper pages by cursor: an offset makes the database read and drop every row before it


class ItemListPage:
    """`limit`/`offset` for the item lists: offsets up to MAX_OFFSET, deeper pages by `cursor`."""

    def __init__(self, limit: int = Query(50, ge=1, le=500),
                 offset: int = Query(0, ge=0, le=MAX_OFFSET, description=(
                     f"At most {MAX_OFFSET:,}; page deeper with `cursor` (`next_cursor`), which costs what "
                     "the first page costs."))) -> None:
        self.limit = limit
        self.offset = offset


ItemPageDep = Annotated[ItemListPage, Depends(ItemListPage)]
Cursor = Annotated[str | None, Query(max_length=200, description=(
    "The `next_cursor` of the previous page: pages by keyset instead of `offset` (not with `offset`)."))]


def _page(session: SessionDep, user: Reader, page: ItemPageDep, kinds: tuple[str, ...], cursor: str | None,
          **filters: Any) -> ItemPage:
    found = list_page(session, kinds=kinds, tlp_max=user_clearance(user), limit=page.limit, offset=page.offset,
                      cursor=cursor, **filters)
    return ItemPage(items=[ItemRead.model_validate(r) for r in found.rows], total=found.total,
                    total_exact=found.total_exact, next_cursor=found.next_cursor)


@router.get("/advisories", response_model=ItemPage)
def advisories(session: SessionDep, user: Reader, page: ItemPageDep, q: SearchText = None,
               source_id: DbIdFilter = None, cursor: Cursor = None) -> ItemPage:
    """Advisories, newest first."""
    return _page(session, user, page, ("advisory",), cursor, q=q, source_id=source_id)


@router.get("/vulnerabilities", response_model=ItemPage)
def vulnerabilities(session: SessionDep, user: Reader, page: ItemPageDep, q: SearchText = None,
                    known_exploited: bool | None = None, cursor: Cursor = None) -> ItemPage:
    """Vulnerabilities (CVE), newest first; `known_exploited=true` for KEV entries."""
    return _page(session, user, page, ("vulnerability",), cursor, q=q, known_exploited=known_exploited)


@router.get("/indicators", response_model=ItemPage)
def indicators(session: SessionDep, user: Reader, page: ItemPageDep, q: SearchText = None,
               type: str | None = None, source_id: DbIdFilter = None, cursor: Cursor = None) -> ItemPage:
    """Indicators of compromise, filterable by type (ipv4, domain, url, sha256 …)."""
    return _page(session, user, page, ("indicator",), cursor, q=q, indicator_type=type, source_id=source_id)


@router.get("/exposures", response_model=ItemPage)
def exposures(session: SessionDep, user: Reader, page: ItemPageDep, q: SearchText = None,
              cursor: Cursor = None) -> ItemPage:
    """Exposures (findings about one host, e.g. from Shadowserver reports)."""
    return _page(session, user, page, ("exposure",), cursor, q=q)


@router.get("/items/{item_id}", response_model=ItemDetail)
def item_detail(item_id: DbId, session: SessionDep, user: Reader) -> ItemDetail:
    """One item with its full normalised data."""
    item = session.get(StoredItem, item_id)
    if item is None or item.tlp_rank > int(user_clearance(user)):
        raise NotFound(f"fant ingen element med id {item_id}")
    return ItemDetail.model_validate(item)
