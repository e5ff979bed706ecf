"""Delivery starts when the match is made, on its own queue: a real Celery worker (Redis, PostgreSQL)
collects a feed from a loopback HTTP server; its commit puts `notify.send` on the `delivery` queue
(no beat runs, so no tick can be what sends), and a worker consuming only that queue hands every
immediate alert to a real SMTP server (aiosmtpd), each once."""

import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest
import redis
from sqlalchemy import select

from certmon.config import get_settings
from certmon.demo.load import load_demo
from certmon.notify.models import Delivery, Notification
from certmon.notify.policy import AlertPolicy, save_policy
from certmon.sources.models import Source
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import SAMPLES_DIR
from tests.conftest import REDIS_URL
from tests.workers.test_celery_worker import redis_broker, stop_worker, wait_for  # noqa: F401 - fixture
from tests.workers.test_worker_kill import smtp  # noqa: F401 - fixture
from workers.celery_app import DELIVERY_QUEUE, make_celery

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def _worker(tmp_path, name: str, queues: str):
    log = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "worker",
                             "--pool=solo", "-Q", queues, "-l", "info", "-n", f"{name}{os.getpid()}@%h"],
                            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def test_the_collect_commit_queues_delivery_on_its_own_queue(pg_env, redis_broker, smtp, file_server,  # noqa: F811
                                                             tmp_path, monkeypatch):
    recorder, port = smtp
    monkeypatch.setenv("CERTMON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CERTMON_SMTP_PORT", str(port))
    get_settings.cache_clear()
    base, root = file_server
    shutil.copy(SAMPLES_DIR / "demo" / "demo-indicators.stix.json", root / "partner.json")
    with pg_env.factory.begin() as session:
        load_demo(session)
        save_policy(session, AlertPolicy(at_once_min_severity="low"), actor="test")  # every finding leads
        source_id = create_source(session, SourceCreate(name="partner", format="stix",
                                                        url=f"{base}/partner.json", internal=True)).id
    broker = redis.Redis.from_url(REDIS_URL)
    app = make_celery(get_settings())

    collector, log = _worker(tmp_path, "collect", "celery")
    try:
        app.send_task("feeds.collect_source", args=[source_id])

        def collected() -> bool:
            with pg_env.factory() as session:
                return session.get(Source, source_id).last_outcome is not None

        assert wait_for(collected, 60), (tmp_path / "collect.log").read_text()[-3000:]
        assert wait_for(lambda: broker.llen(DELIVERY_QUEUE) >= 1, 10)  # asked for at the commit
    finally:
        stop_worker(collector, log)
    with pg_env.factory() as session:
        assert session.get(Source, source_id).last_outcome == "ok"
        immediate = set(session.scalars(select(Delivery.id).join(Notification)
                                        .where(Notification.mode == "immediate")))
        assert len(immediate) >= 2 and recorder.message_ids == []  # nothing sent by the collecting worker

    sender, log = _worker(tmp_path, "deliver", DELIVERY_QUEUE)
    try:
        def sent() -> bool:
            with pg_env.factory() as session:
                rows = session.execute(select(Delivery.status).join(Notification)
                                       .where(Notification.mode == "immediate")).scalars().all()
                return set(rows) == {"sent"}

        assert wait_for(sent, 60), (tmp_path / "deliver.log").read_text()[-3000:]
    finally:
        stop_worker(sender, log)
    with pg_env.factory() as session:
        ids = set(session.scalars(select(Delivery.message_id).join(Notification)
                                  .where(Notification.mode == "immediate")))
    received = Counter(recorder.message_ids)
    assert len(ids) == len(immediate) and set(received) == ids and max(received.values()) == 1
