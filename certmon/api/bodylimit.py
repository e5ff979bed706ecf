"""A size limit on every request body, enforced before the application reads it.

FastAPI reads a JSON or form body whole before any dependency runs, so without a limit an anonymous
caller could make the server hold a body of any size in memory. Bodies larger than
CERTMON_MAX_BODY_BYTES are refused with 413: at once when `Content-Length` says so, otherwise as soon
as the streamed body passes the limit. Push ingest (`POST /api/v1/sources/{name}/items`) has its own,
larger limit (CERTMON_PUSH_MAX_BYTES), checked by its route after the sender's permission.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certmon.i18n import _

PUSH_PATH = re.compile(r"^/api/v1/sources/[^/]+/items/?$")


def _message(limit: int) -> str:
    return _("The request is larger than the limit of %(limit)s bytes") % {"limit": f"{limit:,}".replace(",", " ")}


class BodyLimit:
    """ASGI middleware: 413 for a request body over the limit (push ingest excepted)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and PUSH_PATH.match(scope["path"])):
            await self.app(scope, receive, send)  # push ingest: its route checks the sender, then its own limit
            return
        limit = self.limit
        declared = next((value for name, value in scope.get("headers") or [] if name == b"content-length"), b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return
        if scope["method"] in _NO_BODY:
            # No certmon route reads a body sent with these. A response that sends a file or a stream
            # reads the connection meanwhile (it listens for a disconnect), maybe before it starts:
            # what it reads it drops, so there is nothing to refuse, and a 413 raised there would
            # break the answer already under way.
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a body streamed without (or past) its Content-Length
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, counted, send)


_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_taxii(path: str) -> bool:
    return path == "/taxii2" or path.startswith("/taxii2/")


def is_api_path(path: str) -> bool:
    """Whether callers of this path read certmon's JSON error body (the API) or a TAXII error object."""
    return path.startswith("/api/") or _is_taxii(path)


def too_large_text(detail: str) -> Response:
    """The dashboard's 413: plain text (a browser shows it; there is no page to return to)."""
    return PlainTextResponse(detail, status_code=413)


def _too_large(scope: Scope, limit: int) -> Response:
    """The 413 answer in the form the path's callers read: JSON, a TAXII error object, or plain text."""
    path = scope.get("path", "")
    detail = _message(limit)
    headers = {"Connection": "close"}  # the body is not read: the connection cannot carry another request
    if _is_taxii(path):
        from certmon.taxii.views import as_taxii_error

        return as_taxii_error(JSONResponse({"detail": detail}, status_code=413, headers=headers))
    if is_api_path(path):
        return JSONResponse({"detail": detail}, status_code=413, headers=headers)
    response = too_large_text(detail)
    response.headers["Connection"] = "close"
    return response
