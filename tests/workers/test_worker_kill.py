"""SIGKILL a real Celery worker while it delivers alerts; a new worker sends every e-mail once.

Feed → match → outbox comes from the demo STIX bundle through the real pipeline (PostgreSQL); the
worker takes `notify.deliver_due` from Redis and talks to a real SMTP server (aiosmtpd) in this
test. A test-only hook (CERTMON_TEST_PAUSE_AT) stops the worker at a named point so the kill lands
exactly there: after claiming, after the server's 250 but before our commit, after marking sent.
"""

import email
import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from email import policy

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from certmon.config import get_settings
from certmon.db import utcnow
from certmon.demo.load import load_demo
from certmon.notify.models import Delivery, Notification
from certmon.sources.service import sync_catalogue
from feeds.collect import SAMPLES_DIR, Document, run_source
from feeds.plugin import catalogue
from tests.conftest import REDIS_URL, _require_port, free_port
from tests.workers.test_celery_worker import start_worker, stop_worker, wait_for
from workers.celery_app import make_celery

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


class Recorder:
    def __init__(self):
        self.message_ids = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.message_ids.extend([str(msg["Message-ID"]).strip()] * len(envelope.rcpt_tos))
        return "250 2.0.0 OK"


@pytest.fixture
def smtp():
    recorder, port = Recorder(), free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


@pytest.mark.parametrize("point", ["claimed", "sent", "marked"])
def test_kill_worker_mid_delivery(pg_env, smtp, tmp_path, monkeypatch, point):
    _require_port(6379, "Redis")
    recorder, port = smtp
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    for key, value in {"CERTMON_BROKER_URL": REDIS_URL, "CERTMON_SMTP_HOST": "127.0.0.1",
                       "CERTMON_SMTP_PORT": str(port), "CERTMON_DELIVERY_LEASE_S": "2"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()

    with pg_env.factory.begin() as session:
        sync_catalogue(session, catalogue(demo=True))
        load_demo(session)
        from certmon.sources.service import get_source

        source_id = get_source(session, name="demo-partner-stix").id
    data = (SAMPLES_DIR / "demo" / "demo-indicators.stix.json").read_bytes()
    report = run_source(pg_env.factory, source_id, documents=[Document(data, "demo.json")])
    assert report.notification_ids
    with pg_env.factory.begin() as session:  # the grouping window has closed
        session.execute(update(Notification).values(not_before=utcnow() - timedelta(minutes=1)))
        expected = len(session.scalars(select(Delivery.id)).all())
    assert expected >= 3

    app = make_celery(get_settings())
    marker = tmp_path / "paused"
    proc, log = start_worker(tmp_path, {"CERTMON_TEST_PAUSE_AT": point, "CERTMON_TEST_PAUSE_FILE": str(marker)})
    try:
        app.send_task("notify.deliver_due")
        assert wait_for(marker.exists, 60), (tmp_path / "worker.log").read_text()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        log.close()

    proc, log = start_worker(tmp_path)
    try:
        def all_sent() -> bool:
            app.send_task("notify.deliver_due")
            time.sleep(1.5)
            with pg_env.factory() as session:
                return set(session.scalars(select(Delivery.status))) == {"sent"}

        assert wait_for(all_sent, 90), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(proc, log)
        broker.flushdb()

    with pg_env.factory() as session:
        ids = set(session.scalars(select(Delivery.message_id)))
    received = Counter(recorder.message_ids)
    assert set(received) == ids  # every e-mail arrived
    duplicates = sum(n - 1 for n in received.values())
    # Only a kill between the server's 250 and our commit can repeat one message — with the same
    # Message-ID, so mail clients show it once (docs/alerts.md explains this SMTP limit).
    assert duplicates == (1 if point == "sent" else 0)
