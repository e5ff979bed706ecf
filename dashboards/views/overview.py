"""Situasjonsbilde: key figures, the newest advisories and matches, source health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certmon.api.deps import SessionDep
from certmon.items.service import list_items
from certmon.matching.service import list_matches
from certmon.sources.service import list_sources
from certmon.tlp import max_tlp
from dashboards.formatting import tlp_of
from dashboards.queries import key_figures
from dashboards.views.incidents import overdue_card
from dashboards.web import Viewer, render, tlp_ceiling

router = APIRouter(include_in_schema=False)


@router.get("/")
def situation(request: Request, session: SessionDep, user: Viewer) -> Response:
    """The analyst's start page."""
    ceiling = tlp_ceiling(user)
    advisories, _total = list_items(session, kinds=["advisory"], tlp_max=ceiling, limit=8)
    newest, _count = list_matches(session, tlp_max=int(ceiling), limit=8)
    sources, _n = list_sources(session, limit=500)
    enabled = [s for s in sources if s.enabled]
    unhealthy = [s for s in enabled if not s.healthy]
    late_incidents = overdue_card(session, ceiling)
    shown = [tlp_of(a.tlp) for a in advisories] + [tlp_of(item.tlp) for _m, item, _c in newest]
    shown += [tlp_of(row["i"].tlp) for row in late_incidents]
    return render(request, user, "overview.html", page_tlp=max_tlp(shown),
                  figures=key_figures(session, ceiling=ceiling), advisories=advisories, matches=newest,
                  sources_enabled=len(enabled), sources_disabled=len(sources) - len(enabled),
                  sources_never_run=sum(1 for s in enabled if s.last_run_at is None),
                  unhealthy=unhealthy, late_incidents=late_incidents)
