"""The SMTP relay goes down in the middle of a delivery and stays down (2 minutes by default), then comes
back: a real worker sends every queued alert once it returns, none twice, and the outbox's age shows on
/metrics while it waits.

What the worker does meanwhile (certmon.notify.deliver, workers.tasks): the first e-mail that cannot reach
the relay goes back in the queue as it was (no attempt charged), the run stops, and the task tries again
after 5, 10, 20, 40, 60, 60 s (then the minute tick). The outage length is FAULTS_SMTP_DOWN_S (default 120,
the issue's two minutes; the backoff schedule is the same whatever the length, so a shorter value only
shortens the wait). The test never asserts on time beyond generous "eventually" timeouts.
"""

import os
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from certmon.api.app import create_app
from certmon.config import get_settings
from certmon.db import utcnow
from certmon.notify.deliver import deliver_due
from certmon.notify.models import Delivery, Notification
from tests.faults import Worker, eventually, ingest_alerts, outbox, prepare_organisations
from workers.celery_app import DELIVERY_QUEUE, make_celery

pytestmark = [pytest.mark.slow, pytest.mark.pgserver]

DOWN_S = float(os.environ.get("FAULTS_SMTP_DOWN_S", "120"))
ORGS = 60
OPS = {"Authorization": "Bearer faults-ops-token"}


def gauge(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_unreachable_relay_charges_nothing(fault_env):
    """Unit level: with the relay's port closed, one run tries one e-mail, gives it back and stops."""
    factory = fault_env.factory
    source_id, targets = prepare_organisations(factory, 5)
    ingest_alerts(factory, source_id, targets)
    fault_env.smtp.stop()
    report = deliver_due(factory)
    assert report.relay_down and "kan ikke nås" in report.relay_down
    assert report.sent == [] and report.retrying == [] and report.failed == []
    with factory() as session:
        rows = session.execute(select(Delivery.status, Delivery.attempts, Delivery.next_attempt_at)).all()
    assert {tuple(r) for r in rows} == {("queued", 0, None)}  # all due, nothing charged
    fault_env.smtp.start()
    assert len(deliver_due(factory).sent) == 5
    assert fault_env.smtp.recorder.total() == 5 and fault_env.smtp.recorder.twice() == {}


def test_relay_down_then_back(fault_env, tmp_path, monkeypatch):
    monkeypatch.setenv("CERTMON_OPS_TOKEN", "faults-ops-token")
    monkeypatch.setenv("CERTMON_SMTP_RATE_PER_SECOND", "10")
    monkeypatch.setenv("CERTMON_SMTP_RATE_BURST", "1")
    get_settings.cache_clear()
    factory, smtp = fault_env.factory, fault_env.smtp
    source_id, targets = prepare_organisations(factory, ORGS)
    assert len(ingest_alerts(factory, source_id, targets)) == ORGS

    worker = Worker(tmp_path, "delivery", queues=DELIVERY_QUEUE)
    try:
        assert eventually(worker.ready, 60), worker.log()
        make_celery(get_settings()).send_task("notify.send", args=[[]], queue=DELIVERY_QUEUE)
        assert eventually(lambda: smtp.recorder.total() >= 5, 60), worker.log()
        smtp.stop()  # mid-run: the open connection drops, then nothing answers on the port
        down_at = time.monotonic()
        assert eventually(lambda: "delivery paused" in worker.log(20000), 60), worker.log()
        accepted_before = smtp.recorder.total()
        assert accepted_before < ORGS

        client = TestClient(create_app())
        time.sleep(2)  # let the oldest alert age a little
        body = client.get("/metrics", headers=OPS).text
        assert gauge(body, "certmon_outbox_waiting") == ORGS - accepted_before
        assert gauge(body, "certmon_outbox_oldest_age_seconds") >= 1
        with factory() as session:  # waiting alerts were not charged for the relay's outage
            charged = session.scalars(select(Delivery.attempts).where(Delivery.status != "sent")).all()
        assert set(charged) == {0}  # the dropped connection was reopened, found refused: nothing charged

        time.sleep(max(DOWN_S - (time.monotonic() - down_at), 0))
        smtp.start()
        assert eventually(lambda: outbox(factory) == {"sent": ORGS}, 180), (outbox(factory), worker.log())
        body = client.get("/metrics", headers=OPS).text
        assert gauge(body, "certmon_outbox_waiting") == 0
        assert gauge(body, "certmon_outbox_oldest_age_seconds") == 0
    finally:
        worker.stop()
    assert smtp.recorder.twice() == {}
    assert set(smtp.recorder.by_rcpt) == {address for _, address in targets}
    runs = worker.log(10**7).count("Task notify.send[")
    assert runs >= 2 * 3, worker.log()  # received + succeeded: the first run and at least two retries


def test_outbox_age_ignores_alerts_waiting_for_their_window(fault_env):
    """An alert held by its grouping window on purpose is not late; once due, its age counts."""
    from certmon.notify.health import outbox_health

    factory = fault_env.factory
    source_id, targets = prepare_organisations(factory, 3)
    ingest_alerts(factory, source_id, targets)
    with factory.begin() as session:
        session.execute(update(Notification).values(not_before=utcnow() + timedelta(minutes=10)))
    with factory() as session:
        assert outbox_health(session).waiting == 0
    with factory.begin() as session:
        session.execute(update(Notification).values(not_before=utcnow() - timedelta(minutes=3)))
    with factory() as session:
        health = outbox_health(session)
    assert health.waiting == 3 and 170 < health.oldest_age_s < 400
