"""Request bodies over CERTMON_MAX_BODY_BYTES get 413 before the application reads them, over real HTTP
(uvicorn on loopback): declared by Content-Length or streamed without one, on the API, the dashboard and
TAXII. Push ingest keeps its own, larger limit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.api.test_push_ingest import PushServer, _serve, eve

LIMIT = 4096  # the push limit in test_push_ingest is 8192


@pytest.fixture
def server(sqlite_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[PushServer]:
    monkeypatch.setenv("CERTMON_MAX_BODY_BYTES", str(LIMIT))
    yield from _serve(sqlite_env, monkeypatch)


def _big_login(size: int) -> bytes:
    return json.dumps({"email": "a@b.invalid", "password": "x" * size}).encode()


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start:start + 1000]


def test_a_body_declared_over_the_limit_is_refused_unread(server: PushServer) -> None:
    r = httpx.post(f"{server.base}/api/v1/auth/token", content=_big_login(LIMIT * 4),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {"detail": "Forespørselen er større enn grensen på 4 096 byte"}
    assert r.headers["x-content-type-options"] == "nosniff"  # the security headers still apply
    ok = httpx.post(f"{server.base}/api/v1/auth/token", json={"email": "a@b.invalid", "password": "x"})
    assert ok.status_code == 401  # the server goes on as before; a body under the limit is read


def test_a_streamed_body_is_refused_once_it_passes_the_limit(server: PushServer) -> None:
    r = httpx.post(f"{server.base}/api/v1/auth/token", content=_chunks(_big_login(LIMIT * 4)),
                   headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers  # chunked: no size known in advance
    assert r.status_code == 413 and r.json()["detail"].startswith("Forespørselen er større enn grensen")


def test_dashboard_forms_and_taxii_get_the_limit_in_their_own_form(server: PushServer) -> None:
    form = httpx.post(f"{server.base}/login", content=b"email=a&password=" + b"x" * LIMIT * 2,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413 and form.headers["content-type"].startswith("text/plain")
    assert "større enn grensen" in form.text
    taxii = httpx.post(f"{server.base}/taxii2/", content=b"{}" + b" " * LIMIT * 2,
                       headers={"Content-Type": "application/taxii+json;version=2.1"})
    assert taxii.status_code == 413 and taxii.headers["content-type"].startswith("application/taxii+json")
    assert taxii.json()["http_status"] == "413"


def test_push_ingest_keeps_its_own_larger_limit(server: PushServer) -> None:
    body = eve(*[f"192.0.2.{n}" for n in range(1, 20)])
    assert LIMIT < len(body) < 8192
    r = server.push("sensor-1", body)
    assert r.status_code == 202, r.text
    too_big = server.push("sensor-1", body * 2)
    assert too_big.status_code == 413 and "CERTMON_PUSH_MAX_BYTES" in too_big.json()["detail"]


def test_a_streamed_form_gets_plain_text_and_a_file_answer_is_not_cut(server: PushServer) -> None:
    """A dashboard form streamed past the limit gets the dashboard's plain-text 413. A file answer reads
    the connection while it sends (it listens for a disconnect): a body sent along with a GET is then
    dropped, and the file arrives whole instead of the connection breaking in the middle."""
    form = httpx.post(f"{server.base}/login", content=_chunks(b"email=a&password=" + b"x" * LIMIT * 2),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413 and form.headers["content-type"].startswith("text/plain")
    css = httpx.get(f"{server.base}/static/app.css").content
    with httpx.Client() as client:
        r = client.request("GET", f"{server.base}/static/app.css", content=_chunks(b"x" * LIMIT * 8))
    assert r.status_code == 200 and r.content == css
