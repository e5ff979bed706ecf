"""HTML routes of the dashboard, one module per page group."""

from __future__ import annotations

from fastapi import APIRouter

from dashboards.views import (
    audit,
    auth,
    incidents,
    items,
    matches,
    notifications,
    oidc,
    overview,
    policy,
    portal,
    portal_users,
    proposals,
    registry,
    reports,
    sources,
)

ROUTERS: tuple[APIRouter, ...] = (auth.router, oidc.router, overview.router, matches.router, items.router,
                                  sources.router, registry.router, notifications.router,
                                  reports.router, incidents.router, portal.router,
                                  portal_users.router, proposals.router, audit.router,
                                  policy.router)
