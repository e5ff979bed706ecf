"""Operations endpoints: `/metrics`, `/openapi.json` and the API documentation (`/docs`, `/redoc`).

The documentation pages load Swagger UI and ReDoc from certmon itself (the files the `fastapi-offline`
package ships, under `/static/api-docs/`), never from a CDN, with a strict Content-Security-Policy and
no inline script. `CERTMON_API_DOCS=false` removes the pages.

Who may reach them (`CERTMON_OPS_ACCESS`):
- `open`: anyone who reaches the server (the default on the embedded SQLite set-up, a developer's machine);
- `restricted` (the default with PostgreSQL, i.e. production): a client in `CERTMON_OPS_NETWORKS`, or one
  sending `Authorization: Bearer <CERTMON_OPS_TOKEN>` (a Prometheus scraper, curl); and for the
  documentation and `/openapi.json` only, also a member of staff signed in to the dashboard.
  Everyone else gets 403. `/healthz` and `/readyz` stay open for the orchestrator's probes.
See docs/operations.md and docs/security.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from html import escape
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from certmon.config import Settings

ASSETS = "/static/api-docs"
DOC_PATHS = ("/docs", "/docs/", "/redoc", "/openapi.json", "/static/api-docs/")
OPS_PATHS = ("/metrics", *DOC_PATHS)
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "worker-src 'self' blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
STAFF = ("reader", "analyst", "admin")

# Swagger UI is started by a file of ours (not an inline script), so the page's CSP needs no 'unsafe-inline'
SWAGGER_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    layout: "BaseLayout", presets: [SwaggerUIBundle.presets.apis], showExtensions: true});
};
"""


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="{ASSETS}/favicon.png">{head}</head><body>{body}</body></html>')
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


def _is_ops_path(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)


def _networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip()]


class OpsGate:
    """Answers 403 on an operations path unless the settings let this caller through."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.open = settings.effective_ops_access == "open"
        self.token = settings.ops_token.get_secret_value()
        self.networks = _networks(settings.ops_networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.open or not _is_ops_path(scope["path"], OPS_PATHS):
            await self.app(scope, receive, send)
            return
        if self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": "drift-endepunktet er ikke åpent herfra (se CERTMON_OPS_ACCESS i "
                                     "docs/operations.md)"}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: Scope) -> bool:
        client = scope.get("client")
        if client and self.networks:
            try:
                address = ipaddress.ip_address(client[0])
            except ValueError:
                address = None
            if address is not None and any(address in net for net in self.networks):
                return True
        if self.token:
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            if header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip(), self.token):
                return True
        return _is_ops_path(scope["path"], DOC_PATHS) and _signed_in_staff(scope)


def _signed_in_staff(scope: Scope) -> bool:
    """A dashboard session of a reader, analyst or admin (the same rule as every signed-in page)."""
    cookie = scope.get("session") or {}
    if not cookie.get("user_id"):
        return False
    from certmon.auth.service import user_for_session
    from certmon.db import session_scope

    with session_scope() as session:
        user = user_for_session(session, cookie)
        return user is not None and user.role in STAFF


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the documentation from local files (unless switched off) and gate every operations path.
    The app must be made with `docs_url=None, redoc_url=None`; call before the dashboard mounts `/static`
    and before the session middleware is added (the gate reads the signed-in session)."""
    if settings.api_docs:
        app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="api-docs")

        @app.get("/docs", include_in_schema=False)
        def swagger_ui() -> HTMLResponse:
            return _page("certmon – API (Swagger UI)", f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">',
                         f'<div id="swagger-ui"></div><script src="{ASSETS}/swagger-ui-bundle.js"></script>'
                         f'<script src="/docs/init.js"></script>')

        @app.get("/docs/init.js", include_in_schema=False)
        def swagger_init() -> Response:
            return Response(SWAGGER_INIT, media_type="text/javascript")

        @app.get("/redoc", include_in_schema=False)
        def redoc() -> HTMLResponse:
            return _page("certmon – API (ReDoc)", "", '<redoc spec-url="/openapi.json"></redoc>'
                         f'<script src="{ASSETS}/redoc.standalone.js"></script>')

    app.add_middleware(OpsGate, settings=settings)
