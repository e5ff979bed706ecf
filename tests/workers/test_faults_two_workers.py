"""Two real Celery worker processes drain one outbox at once: every alert reaches the relay exactly once.

The claim is a conditional UPDATE (queued→sending … WHERE status is still claimable, certmon.notify.claims):
on PostgreSQL the second worker's UPDATE of the same row waits for the first one's commit and then finds
the row no longer claimable, so it moves on. Both workers walk the same ids in the same order, the
case where a lost race would show most.
"""

import re

import pytest

from certmon.config import get_settings
from tests.faults import Worker, eventually, ingest_alerts, outbox, prepare_organisations
from workers.celery_app import DELIVERY_QUEUE, make_celery

pytestmark = [pytest.mark.slow, pytest.mark.pgserver]

ORGS = 300


def sent_by(worker: Worker) -> int:
    """What a worker's delivery runs report as sent (Celery logs each task's return value)."""
    text = worker.log_path.read_text(errors="replace")
    return sum(int(n) for n in re.findall(r"succeeded in [0-9.]+s: \{[^}]*'sent': (\d+)", text))


def test_two_workers_deliver_each_alert_once(fault_env, tmp_path):
    factory = fault_env.factory
    source_id, targets = prepare_organisations(factory, ORGS)
    assert len(ingest_alerts(factory, source_id, targets)) == ORGS
    assert outbox(factory) == {"queued": ORGS}

    workers = [Worker(tmp_path, f"w{n}", queues=DELIVERY_QUEUE) for n in (1, 2)]
    try:
        assert eventually(lambda: all(w.ready() for w in workers), 60), workers[0].log() + workers[1].log()
        app = make_celery(get_settings())
        for _ in range(4):  # runs overlap: each worker takes one at a time, both walk the same rows
            app.send_task("notify.deliver_due", queue=DELIVERY_QUEUE)
        assert eventually(lambda: outbox(factory) == {"sent": ORGS}, 120), (outbox(factory), workers[0].log())
        assert eventually(lambda: sum(map(sent_by, workers)) == ORGS, 30)
    finally:
        for worker in workers:
            worker.stop()

    smtp = fault_env.smtp.recorder
    assert smtp.twice() == {}
    assert set(smtp.by_rcpt) == {address for _, address in targets}
    assert smtp.total() == ORGS
    # both processes really delivered (the test would prove nothing if one had done it all)
    assert all(sent_by(w) > 0 for w in workers), [sent_by(w) for w in workers]
