"""Shared fixtures for feed tests: a real threaded HTTP server on 127.0.0.1 with per-test routes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

RouteHandler = Callable[[BaseHTTPRequestHandler], None]


def send_response(
    handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    """Write a complete response with Content-Length to `handler`."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


class FixtureServer:
    """Routes path → handler function; counts hits and records request headers per path."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteHandler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.base_url = ""
        self.stop = threading.Event()  # set at teardown so slow handlers end early

    @staticmethod
    def respond(
        handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        """Write a complete response (see `send_response`)."""
        send_response(handler, status, body, headers)

    def route(self, path: str, handler: RouteHandler) -> str:
        """Register `handler` for `path` and return the full URL."""
        self.routes[path] = handler
        return self.base_url + path

    def serve_bytes(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Serve a fixed body at `path`; return the URL."""
        return self.route(path, lambda h: send_response(h, 200, body, headers))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Broken and reset connections are what some tests provoke; keep the output clean."""


def _handler_class(server: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with server.lock:
                server.hits[path] += 1
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = server.routes.get(path)
            if route is None:
                send_response(self, 404, b"not found")
                return
            route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def http_fixture_server() -> Iterator[FixtureServer]:
    """A real HTTP server on a free port of 127.0.0.1; routes are added by the test."""
    state = FixtureServer()
    httpd = _QuietServer(("127.0.0.1", 0), _handler_class(state))
    httpd.fixture = state  # type: ignore[attr-defined]  # lets handlers reach `respond`
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
