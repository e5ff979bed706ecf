"""A read request writes nothing: the token's last-used time goes out of band, at most once a minute.
An exhausted connection pool answers 503 with Retry-After, not a bare 500."""

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from certmon.api.app import create_app
from certmon.auth import usage
from certmon.auth.models import ApiToken
from certmon.auth.service import create_user, issue_token
from certmon.config import get_settings
from certmon.db import dispose_engines, get_engine

WRITES = ("insert", "update", "delete", "replace")


def _token(env):
    with env.factory.begin() as session:
        user = create_user(session, email="leser@test.invalid", role="reader", password="passord123")
        return issue_token(session, user=user)


@pytest.fixture
def reader_token(any_env):
    return _token(any_env)


def _record_writes(engine):
    """Write statements per thread name, as the driver receives them."""
    seen: list[tuple[str, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().lower().startswith(WRITES):
            seen.append((threading.current_thread().name, statement))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_bearer_reads_write_nothing_in_the_request(any_env, reader_token, monkeypatch):
    monkeypatch.setattr(usage, "recorder", usage.UsageRecorder())
    client = TestClient(create_app())
    writes = _record_writes(get_engine())
    headers = {"Authorization": f"Bearer {reader_token}"}
    for path in ("/api/v1/indicators", "/api/v1/advisories", "/api/v1/constituents?limit=5", "/api/v1/sources"):
        assert client.get(path, headers=headers).status_code == 200, path
    usage.recorder.flush()
    in_requests = [s for thread, s in writes if not thread.startswith("certmon-usage")]
    assert in_requests == []
    out_of_band = [s for thread, s in writes if thread.startswith("certmon-usage")]
    assert len(out_of_band) == 1 and "api_tokens" in out_of_band[0]  # once, not once per request
    with any_env.factory() as session:
        assert session.scalar(select(ApiToken.last_used_at)) is not None


def test_last_used_is_written_again_after_a_minute(any_env, reader_token):
    recorder = usage.UsageRecorder()
    engine = get_engine()
    with any_env.factory() as session:
        row = session.scalars(select(ApiToken)).one()
        stamp = usage.utcnow()
        assert recorder.note(engine, row.id, None, now=stamp)
        assert not recorder.note(engine, row.id, None, now=stamp + timedelta(seconds=59))
        assert not recorder.note(engine, row.id, stamp, now=stamp + timedelta(seconds=30))
        assert recorder.note(engine, row.id, stamp, now=stamp + timedelta(seconds=61))
    recorder.flush()
    with any_env.factory() as session:
        assert session.scalar(select(ApiToken.last_used_at)) == stamp + timedelta(seconds=61)


def test_sqlite_read_request_on_a_read_only_database(sqlite_env, monkeypatch):
    """The request itself runs on a database SQLite opens read-only; only the out-of-band write fails."""
    reader_token = _token(sqlite_env)
    monkeypatch.setattr(usage, "recorder", usage.UsageRecorder())
    path = sqlite_env.database_url.removeprefix("sqlite:///")
    monkeypatch.setenv("CERTMON_DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    get_settings.cache_clear()
    dispose_engines()
    client = TestClient(create_app())
    r = client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {reader_token}"})
    assert r.status_code == 200, r.text
    usage.recorder.flush()  # its failure is logged, never raised


def test_pool_exhausted_answers_503_with_retry_after(pg_env, monkeypatch):
    reader_token = _token(pg_env)
    monkeypatch.setenv("CERTMON_DB_POOL_SIZE", "1")
    monkeypatch.setenv("CERTMON_DB_POOL_OVERFLOW", "0")
    monkeypatch.setenv("CERTMON_DB_POOL_TIMEOUT_S", "0.2")
    get_settings.cache_clear()
    dispose_engines()
    client = TestClient(create_app(), raise_server_exceptions=False)
    held = get_engine().connect()  # the only connection, taken
    try:
        r = client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {reader_token}"})
    finally:
        held.close()
    assert r.status_code == 503
    assert r.headers["retry-after"].isdigit() and r.json()["detail"]
