"""A real Celery worker process fetching sources whose URLs carry user:password and ?apikey= writes
neither to its log (httpx's own request line included), nor to what it stores; tracebacks and
exception arguments are redacted too; an upgrade scrubs what older versions stored in clear."""

import logging
import shutil

import pytest
from sqlalchemy import create_engine, select

from certmon import logsafety
from certmon.audit.models import AuditEntry
from certmon.config import get_settings
from certmon.dbops import upgrade
from certmon.sources.models import Payload, Source, SourceRun
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from tests.conftest import FIXTURES
from tests.workers.test_celery_worker import redis_broker, start_worker, stop_worker, wait_for  # noqa: F401
from workers.celery_app import make_celery

SECRETS = ("feeduser", "hunter2secret", "K3Y-SECRET")


def _secret_url(base: str, path: str) -> str:
    host = base.split("://", 1)[1]
    return f"http://feeduser:hunter2secret@{host}/{path}?apikey=K3Y-SECRET&format=rss"


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_worker_log_and_stored_runs_hold_no_feed_credentials(pg_env, redis_broker, file_server,  # noqa: F811
                                                              tmp_path):
    base, root = file_server
    shutil.copy(FIXTURES / "rss" / "us-cert_bulletins_2016-01-06.rss.xml", root / "feed.xml")
    with pg_env.factory.begin() as session:
        good = create_source(session, SourceCreate(name="secret-ok", format="rss", url=_secret_url(base, "feed.xml"),
                                                   internal=True)).id
        bad = create_source(session, SourceCreate(name="secret-404", format="rss", url=_secret_url(base, "nope.xml"),
                                                  internal=True)).id
    proc, log = start_worker(tmp_path)
    try:
        app = make_celery(get_settings())
        app.send_task("feeds.collect_source", args=[good])
        app.send_task("feeds.collect_source", args=[bad])

        def both_ran() -> bool:
            with pg_env.factory() as session:
                return all(session.get(Source, i).last_run_at is not None for i in (good, bad))

        assert wait_for(both_ran), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(proc, log)
    text = (tmp_path / "worker.log").read_text()
    assert "HTTP Request: GET http://[skjult]@127.0.0.1" in text  # httpx's own line, redacted
    assert "apikey=[skjult]" in text
    assert not any(s in text for s in SECRETS), [line for line in text.splitlines() if any(s in line for s in SECRETS)]
    with pg_env.factory() as session:
        runs, payloads = session.scalars(select(SourceRun.error)), session.scalars(select(Payload.url))
        stored = " ".join(filter(None, [*runs, *payloads, session.get(Source, bad).last_error or ""]))
        assert "404" in stored and not any(s in stored for s in SECRETS), stored


def test_tracebacks_and_exception_arguments_are_redacted(caplog):
    logsafety.install()
    log = logging.getLogger("feeds.collect")
    with caplog.at_level(logging.INFO, logger="feeds.collect"):
        try:
            raise RuntimeError("cannot fetch https://u:hunter2secret@x.example/f?token=K3Y-SECRET")
        except RuntimeError as exc:
            log.exception("collecting %s failed: %s", "kilde", exc)
    formatted = caplog.handler.format(caplog.records[-1])
    assert "x.example" in formatted and "RuntimeError" in formatted
    assert "hunter2secret" not in formatted and "K3Y-SECRET" not in formatted


def test_an_upgrade_scrubs_secrets_stored_by_older_versions(tmp_path, monkeypatch):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0011")
    url = "https://feeduser:hunter2secret@feeds.example.invalid/x.csv?apikey=K3Y-SECRET"
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        source = Source(name="old", format="rss", url=url, last_error=f"HTTP 500 from {url}")
        s.add(source)
        s.flush()
        # Core insert: only the columns revision 0011 has (the ORM would also write later ones).
        s.execute(SourceRun.__table__.insert().values(source_id=source.id, error=f"cannot fetch {url}: boom"))
        s.add(Payload(sha256="0" * 64, source_id=source.id, size=1, url=url, content=b"x"))
        s.add(AuditEntry(actor="admin", action="source.create", entity_type="source", entity_id="1",
                         detail={"name": "old", "url": url}))
    upgrade(engine)
    with Session(engine) as s:
        kept = s.scalar(select(Source.url))
        texts = [s.scalar(select(Source.last_error)), s.scalar(select(SourceRun.error)),
                 s.scalar(select(Payload.url)), s.scalar(select(AuditEntry.detail))["url"]]
    assert kept == url  # still needed for fetching
    for text in texts:
        assert "feeds.example.invalid" in text and not any(x in text for x in SECRETS), text
    engine.dispose()
