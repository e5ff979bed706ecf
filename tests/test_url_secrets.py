"""Credentials in feed URLs never reach a log line, a run's error, the sources API or the audit log."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select

from certmon import logsafety
from certmon.audit.models import AuditEntry
from certmon.logsafety import redact_secrets
from certmon.sources.schemas import SourceCreate, SourceRead, SourceUpdate
from certmon.sources.service import create_source, update_source
from feeds.collect import run_source

SECRET_URL = "https://feeduser:hunter2secret@feeds.example.invalid/export.csv?apikey=K3Y-SECRET&format=csv"
SECRETS = ("hunter2secret", "K3Y-SECRET", "feeduser")


@pytest.mark.parametrize(("text", "kept"), [
    (SECRET_URL, "https://[skjult]@feeds.example.invalid/export.csv?apikey=[skjult]&format=csv"),
    ("GET http://a.example/x?token=abc&key=def#f", "GET http://a.example/x?token=[skjult]&key=[skjult]#f"),
    ("fetch https://plain.example/feed.xml failed", "fetch https://plain.example/feed.xml failed"),
])
def test_redaction(text: str, kept: str) -> None:
    assert redact_secrets(text) == kept


def test_httpx_request_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logsafety.install()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    with caplog.at_level(logging.INFO, logger="httpx"), httpx.Client(transport=transport) as client:
        client.get(SECRET_URL)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "feeds.example.invalid" in text
    assert not any(s in text for s in SECRETS)


def test_sources_api_runs_and_audit_hide_credentials(sqlite_env) -> None:
    with sqlite_env.factory.begin() as s:
        source = create_source(s, SourceCreate(name="secret-feed", format="feodo", url=SECRET_URL), actor="admin")
        source_id = source.id
        shown = SourceRead.model_validate(source).model_dump_json()
        assert "feeds.example.invalid" in shown and not any(x in shown for x in SECRETS)
        update_source(s, source, SourceUpdate(url=SECRET_URL.replace("K3Y", "N3W")), actor="admin")
    report = run_source(sqlite_env.factory, source_id)  # the host does not resolve: the run fails
    assert report.outcome != "ok"
    with sqlite_env.factory() as s:
        audit = " ".join(str(e.detail) for e in s.scalars(select(AuditEntry)))
        from certmon.sources.models import Source
        stored = s.get(Source, source_id)
        assert stored is not None and stored.url.startswith("https://feeduser:")  # kept for fetching
        error = SourceRead.model_validate(stored).model_dump_json()
    for text in (audit, error, report.error or ""):
        assert not any(x in text for x in (*SECRETS, "N3W-SECRET")), text


def test_pages_and_json_are_not_cached(sqlite_env) -> None:
    from fastapi.testclient import TestClient

    from certmon.api.app import create_app

    with TestClient(create_app()) as client:
        for path in ("/login", "/api/v1/sources", "/healthz"):
            assert client.get(path).headers.get("cache-control") == "no-store", path
