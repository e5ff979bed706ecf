"""Varsler inn (advisories), Sårbarheter, Indikatorer and the detail page of any item."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from certmon.items.models import StoredItem
from certmon.items.service import ITEM_SORTS, list_items
from certmon.sources.models import Source
from certmon.tlp import max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.formatting import tlp_of
from dashboards.queries import matches_for_item
from dashboards.web import PageError, Pager, Viewer, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
INDICATOR_TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "asn")
LIMIT = 25


def _item_list(request: Request, session: SessionDep, user: Viewer, *, kinds: list[str], template: str,
               q: str | None, offset: int, **extra: Any) -> Response:
    offset = max(offset, 0)
    filters = {k: v for k, v in extra.items() if k in ("known_exploited", "indicator_type", "sort")}
    rows, total = list_items(session, kinds=kinds, tlp_max=tlp_ceiling(user), q=q or None, limit=LIMIT,
                             offset=offset, **filters)
    names = {sid: title or name for sid, name, title in session.execute(
        select(Source.id, Source.name, Source.title))}
    return render(request, user, template, page_tlp=max_tlp([tlp_of(r.tlp) for r in rows]), rows=rows,
                  total=total, q=q or "", pager=Pager(request, total, LIMIT, offset), source_titles=names,
                  **extra)


@router.get("/varsler-inn")
def advisories(request: Request, session: SessionDep, user: Viewer, q: str | None = None,
               offset: int = 0) -> Response:
    """Advisories from every source, newest first, with text search."""
    return _item_list(request, session, user, kinds=["advisory"], template="advisories.html", q=q,
                      offset=offset)


@router.get("/sarbarheter")
def vulnerabilities(request: Request, session: SessionDep, user: Viewer, q: str | None = None,
                    kev: str | None = None, offset: int = 0, sort: str = "published") -> Response:
    """Vulnerabilities; `kev=1` shows only the known exploited; sortable by KEV date, CVSS, CVE, due date."""
    known = True if kev == "1" else None
    sort = sort if sort in ITEM_SORTS else "published"
    return _item_list(request, session, user, kinds=["vulnerability"], template="vulnerabilities.html", q=q,
                      offset=offset, known_exploited=known, sort=sort, sorts=ITEM_SORTS, kev=kev or "")


@router.get("/indikatorer")
def indicators(request: Request, session: SessionDep, user: Viewer, q: str | None = None,
               indicator_type: Annotated[str | None, Query(alias="type")] = None,
               offset: int = 0) -> Response:
    """Indicators of compromise and exposures (findings about one host), filterable by type."""
    chosen = indicator_type if indicator_type in INDICATOR_TYPES else None
    kinds = ["indicator", "exposure"]
    if indicator_type == "exposure" or chosen:
        kinds = ["exposure"] if indicator_type == "exposure" else ["indicator"]
    return _item_list(request, session, user, kinds=kinds, template="indicators.html", q=q, offset=offset,
                      indicator_type=chosen, chosen_type=indicator_type or "", types=INDICATOR_TYPES)


@router.get("/elementer/{item_id}")
def item_detail(request: Request, session: SessionDep, user: Viewer, item_id: int) -> Response:
    """One item with its sanitised summary and the constituents it matched."""
    item = session.get(StoredItem, item_id)
    if item is None or item.tlp_rank > int(tlp_ceiling(user)):
        raise PageError(404, _("No such item, or it is above your TLP clearance."))
    source = session.get(Source, item.source_id)
    return render(request, user, "item.html", page_tlp=tlp_of(item.tlp), item=item, source=source,
                  data=item.data or {}, matches=matches_for_item(session, item_id=item.id))
