"""A real Celery worker process (Redis broker, PostgreSQL database) follows a feed item to the API."""

import os
import shutil
import subprocess
import sys
import time

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from certmon.api.app import create_app
from certmon.auth.service import create_user, issue_token
from certmon.config import get_settings
from certmon.items.models import StoredItem
from certmon.sources.models import Source
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from tests.conftest import FIXTURES, REDIS_URL, _require_port
from workers.celery_app import make_celery

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def redis_broker(monkeypatch):
    _require_port(6379, "Redis")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    monkeypatch.setenv("CERTMON_BROKER_URL", REDIS_URL)
    get_settings.cache_clear()
    yield REDIS_URL
    client.flushdb()


def start_worker(env_dir, extra_env=None):
    """Start `celery worker` as a separate process with the test's configuration."""
    env = {k: v for k, v in os.environ.items()}
    env.update({k: v for k, v in os.environ.items() if k.startswith("CERTMON_")})
    env.update(extra_env or {})
    log = open(env_dir / "worker.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "worker",
                             "--pool=solo", "-l", "info", "-n", f"test{os.getpid()}@%h"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def stop_worker(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_worker_collects_feed_into_api(pg_env, redis_broker, file_server, tmp_path):
    base, root = file_server
    shutil.copy(FIXTURES / "rss" / "us-cert_bulletins_2016-01-06.rss.xml", root / "feed.xml")
    with pg_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="cisa", format="rss", url=f"{base}/feed.xml",
                                                        internal=True)).id
        token = issue_token(session, user=create_user(session, email="a@test.invalid", role="analyst",
                                                      password="passord123"))
    proc, log = start_worker(tmp_path)
    try:
        app = make_celery(get_settings())
        app.send_task("feeds.collect_source", args=[source_id])

        def stored() -> bool:
            with pg_env.factory() as session:
                return (session.scalar(select(func.count(StoredItem.id))) or 0) >= 10

        assert wait_for(stored), (tmp_path / "worker.log").read_text()[-3000:]
        with pg_env.factory() as session:
            source = session.get(Source, source_id)
            assert source.last_outcome == "ok" and source.last_items == 10
        body = TestClient(create_app()).get("/api/v1/advisories",
                                            headers={"Authorization": f"Bearer {token}"}).json()
        assert body["total"] == 10
        assert any("SB16-004" in (item["title"] or "") for item in body["items"])

        # the scheduler task queues due sources from the sources table; the run is not repeated twice
        app.send_task("feeds.schedule_due")
        assert wait_for(lambda: "feeds.schedule_due" in (tmp_path / "worker.log").read_text(), 30)
    finally:
        stop_worker(proc, log)
