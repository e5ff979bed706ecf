"""The FastAPI application: routers, error rendering, security headers, and the dashboard plugin."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certmon import __version__, logsafety, plugins
from certmon.api import openapi, ops
from certmon.api.bodylimit import BodyLimit, is_api_path, too_large_text
from certmon.auth.throttle import SignInThrottle
from certmon.config import get_settings
from certmon.errors import CertmonError, ValidationFailed

log = logging.getLogger(__name__)

ROUTERS = (
    "certmon.api.routers.health",
    "certmon.auth.views",
    "certmon.items.views",
    "certmon.registry.views",
    "certmon.portal.views",
    "certmon.sources.views",
    "certmon.sources.push_views",
    "certmon.matching.views",
    "certmon.api.routers.notifications",
    "certmon.api.routers.responses",
    "certmon.api.routers.me",
    "certmon.api.routers.exports",
    "certmon.audit.views",
    "certmon.reports.views",
    "certmon.incidents.views",
    "certmon.taxii.views",
)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]


class SecurityHeaders:
    """Adds strict headers to every response (feed content is untrusted HTML)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {h[0].lower() for h in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]  # /docs sets its own CSP
                if b"cache-control" not in names and not scope["path"].startswith("/static/"):
                    # pages and JSON may hold RED/AMBER data: nothing stays in a shared PC's browser cache
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


async def _certmon_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CertmonError)
    body: dict[str, object] = {"detail": exc.message}
    if isinstance(exc, ValidationFailed) and exc.problems:
        body["problems"] = exc.problems
    retry_after = getattr(exc, "retry_after", None)  # 429 from the sign-in limits
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return JSONResponse({"detail": "ugyldig forespørsel", "problems": problems}, status_code=422)


HTTP_DETAILS = {404: "fant ikke siden", 405: "metoden er ikke tillatt her"}


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405 (and any HTTPException) in the one error body (certmon/api/openapi.py)
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 413 and not is_api_path(request.url.path):  # a dashboard form streamed too large
        return too_large_text(str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route on the path; a path served by several routes (GET and PATCH
        # on /reports/{id}) has all their methods
        methods = openapi.allowed_methods(request.app, request.scope)
        if methods:
            headers["Allow"] = ", ".join(sorted(methods))
    detail = HTTP_DETAILS.get(exc.status_code, str(exc.detail))
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


RETRY_AFTER_S = "5"


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error: %s", str(exc).splitlines()[0])
    return JSONResponse({"detail": "databasen er ikke tilgjengelig"}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER_S})


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # every pooled connection busy for db_pool_timeout_s: the service is overloaded, not broken
    log.warning("no database connection free within the pool timeout on %s", request.url.path)
    return JSONResponse({"detail": "tjenesten er overbelastet akkurat nå; prøv igjen om litt"}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER_S})


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error on %s: %s", request.url.path, str(exc).splitlines()[0])
    return JSONResponse({"detail": "endringen kolliderer med data som finnes fra før (duplikat?)"},
                        status_code=409)


async def _statement_error(request: Request, exc: Exception) -> JSONResponse:
    # a value the driver could not convert (e.g. a date far outside the range a timestamp holds)
    assert isinstance(exc, StatementError)
    if isinstance(exc.orig, (OverflowError, ValueError)):
        return await _bad_value(request, exc)
    log.error("database statement failed on %s: %s", request.url.path, str(exc).splitlines()[0])
    return JSONResponse({"detail": "databasen kunne ikke utføre forespørselen"}, status_code=500)


async def _bad_value(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "en verdi i forespørselen er utenfor det databasen kan lagre"},
                        status_code=422)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # what Starlette answers anyway (its server-error middleware still logs the traceback); TAXII paths
    # get the same status as a TAXII error object
    return PlainTextResponse("Internal Server Error", status_code=500)


TAXII_PREFIX = "/taxii2"
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def _taxii_aware(handler: ErrorHandler) -> ErrorHandler:
    """Under /taxii2 every error is a TAXII 2.1 error object (certmon.taxii.views), whatever raised it."""

    async def render(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        path = request.url.path
        if path == TAXII_PREFIX or path.startswith(TAXII_PREFIX + "/"):
            from certmon.taxii.views import as_taxii_error

            return as_taxii_error(response)
        return response

    return render


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, alerts its requests queue (push ingest, triage) go out at once."""
    from certmon.notify import soon

    uninstall = soon.install()
    try:
        yield
    finally:
        uninstall()


def create_app() -> FastAPI:
    """Build the app; the dashboard mounts itself if installed."""
    settings = get_settings()
    logsafety.install()  # answer and password links carry tokens in the path
    app = FastAPI(title="certmon", version=__version__, lifespan=_lifespan, docs_url=None, redoc_url=None,
                  # /docs and /redoc: served from local files by certmon.api.ops
                  description="Trusselinformasjon, treff og varsler for Helse- og KommuneCERT")
    for name in ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        app.include_router(module.router)
    openapi.install(app)
    handlers: list[tuple[type[Exception], ErrorHandler]] = [
        (StarletteHTTPException, _http_error), (CertmonError, _certmon_error),
        (RequestValidationError, _validation_error), (OperationalError, _database_down),
        (PoolTimeout, _pool_exhausted), (IntegrityError, _conflict), (DataError, _bad_value),
        (OverflowError, _bad_value), (StatementError, _statement_error), (Exception, _unexpected),
    ]
    for exc_class, handler in handlers:
        app.add_exception_handler(exc_class, _taxii_aware(handler))
    app.state.signin_throttle = SignInThrottle.from_settings(settings)
    ops.install(app, settings)  # local Swagger UI/ReDoc (before the dashboard's /static); who reaches them
    web = plugins.optional("dashboards")
    if web is not None:
        web.mount(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret(), session_cookie="certmon_session",
                       same_site="strict", https_only=settings.public_base_url.startswith("https"),
                       max_age=int(settings.session_lifetime_hours * 3600))
    app.add_middleware(SecurityHeaders)
    return app
