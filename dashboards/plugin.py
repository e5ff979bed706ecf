"""The dashboard as the core sees it (entry point `certmon.plugins: dashboards`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dashboards.web import install_error_pages

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    """Add the dashboard's HTML routes, error pages and `/static` to the API app."""
    from dashboards.views import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
