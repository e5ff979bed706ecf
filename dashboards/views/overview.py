"""Situasjonsbilde: key figures, the newest advisories and matches, source health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certmon.db import utcnow
from certmon.items.service import list_items
from certmon.matching.service import list_matches
from certmon.reports.charts import column_chart
from certmon.sources.service import list_sources
from certmon.tlp import TLP, max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.formatting import label, tlp_of
from dashboards.queries import key_figures, source_titles
from dashboards.trends import SEVERITIES, trends
from dashboards.views.incidents import overdue_card
from dashboards.web import Viewer, render, tlp_ceiling

router = APIRouter(include_in_schema=False)


@router.get("/")
def situation(request: Request, session: SessionDep, user: Viewer) -> Response:
    """The analyst's start page."""
    ceiling = tlp_ceiling(user)
    advisories, _total = list_items(session, kinds=["advisory"], tlp_max=ceiling, limit=8)
    # the last week's matches, most severe (then exploited, then newest) first; else simply the newest
    week = utcnow() - timedelta(days=7)
    newest, _count = list_matches(session, tlp_max=int(ceiling), limit=8, since=week, sort="severity")
    if not newest:
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
                  unhealthy=unhealthy, late_incidents=late_incidents, charts=trend_charts(session, ceiling),
                  sources=source_titles(session))


SEVERITY_COLOURS = {"critical": "#7a1414", "high": "#c9302c", "medium": "#e09a1f", "low": "#3d7ab8",
                    "info": "#9aa9b8"}


def trend_charts(session: SessionDep, ceiling: TLP) -> list[dict[str, Any]]:
    """The three trend charts of the last 30 days, each with the rows of its text table."""
    t = trends(session, ceiling=ceiling)
    days = [d.strftime("%d.%m") for d in t.days]
    severity = [(label(s, "severity"), SEVERITY_COLOURS[s], t.matches[s]) for s in SEVERITIES]
    alerts = [(_("sent"), "#1f5f8b", t.alerts_sent), (_("answered"), "#4caf50", t.alerts_answered)]
    failing = [(_("sources with failed runs"), "#b3261e", t.sources_failing)]
    charts = []
    for title, definition, series in (
            (_("New matches by severity"), _("by the day certmon made the match"), severity),
            (_("Alerts sent and answered"), _("by the day the alert was sent, and the day it was answered"), alerts),
            (_("Sources failing"), _("sources with at least one failed run that day"), failing)):
        shown = [s for s in series if any(s[2])] or series[:1]
        charts.append({"title": title, "definition": definition, "days": days, "series": shown,
                       "total": sum(sum(v) for _n, _c, v in series),
                       "svg": column_chart(days, shown, title=f"{title} – {_('last 30 days')}")})
    return charts
