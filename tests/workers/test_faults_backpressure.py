"""Back-pressure: a source that delivers a huge payload cannot delay an alert. Ingest runs on the `celery`
queue and delivery on the `delivery` queue, each with its own worker process (as docker-compose.yml's
worker-ingest and worker-delivery); while the ingest worker is deep in a 200,000-row Feodo file, alerts
queued elsewhere reach the relay through the delivery worker, and /metrics shows each queue's depth.
"""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from certmon.api.app import create_app
from certmon.config import get_settings
from certmon.sources.models import SourceRun
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from tests.faults import Worker, eventually, ingest_alerts, outbox, prepare_organisations, store_transaction_open
from workers.celery_app import DEFAULT_QUEUE, DELIVERY_QUEUE, make_celery

pytestmark = [pytest.mark.slow, pytest.mark.pgserver]

ROWS = 200_000
ALERTS = 10
OPS = {"Authorization": "Bearer faults-ops-token"}


def feodo(rows: int) -> str:
    """A Feodo Tracker CSV of `rows` C2 addresses in 100.64.0.0/10 (nobody's network: no matches)."""
    head = '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'
    return head + "".join(f'"2026-01-17 07:30:05","100.{64 + n // 65536}.{n // 256 % 256}.{n % 256}","443",'
                          f'"online","2026-02-10","Dridex"\n' for n in range(rows))


def test_huge_ingest_does_not_delay_alerts(fault_env, tmp_path, file_server, monkeypatch):
    monkeypatch.setenv("CERTMON_OPS_TOKEN", "faults-ops-token")
    get_settings.cache_clear()
    base, root = file_server
    (root / "feodo.csv").write_text(feodo(ROWS))
    factory, pg = fault_env.factory, fault_env.pg.server
    push_source, targets = prepare_organisations(factory, ALERTS)
    with factory.begin() as session:
        big = create_source(session, SourceCreate(name="faults-feodo", format="feodo", url=f"{base}/feodo.csv",
                                                  interval_s=86400, internal=True), actor="test").id
    database = fault_env.env.database_url.rsplit("/", 1)[1]
    celery = make_celery(get_settings())

    ingest = Worker(tmp_path, "ingest", queues=DEFAULT_QUEUE)
    delivery = Worker(tmp_path, "delivery", queues=DELIVERY_QUEUE)
    try:
        assert eventually(lambda: ingest.ready() and delivery.ready(), 60), ingest.log() + delivery.log()
        celery.send_task("feeds.collect_source", args=[big], queue=DEFAULT_QUEUE)
        assert eventually(lambda: store_transaction_open(pg.port, database), 120, every=0.1), ingest.log()
        for _ in range(3):  # more ingest waits behind the big one
            celery.send_task("feeds.collect_source", args=[big], queue=DEFAULT_QUEUE)
        body = TestClient(create_app()).get("/metrics", headers=OPS).text
        assert 'certmon_queue_depth{queue="celery"} 3.0' in body
        assert 'certmon_queue_depth{queue="delivery"} 0.0' in body

        assert len(ingest_alerts(factory, push_source, targets)) == ALERTS  # e.g. a sensor's push
        celery.send_task("notify.send", args=[[]], queue=DELIVERY_QUEUE)  # what the push's commit asks for
        assert eventually(lambda: fault_env.smtp.recorder.total() == ALERTS, 60), delivery.log()
        with factory() as session:  # ... while the huge run is still going
            running = session.scalars(select(SourceRun.finished_at).where(SourceRun.source_id == big)).all()
        assert running == [None], "the big ingest finished first: the test proved nothing"
        # The relay has every message; the worker marks the last one sent just after the relay's answer.
        assert eventually(lambda: outbox(factory) == {"sent": ALERTS}, 30), outbox(factory)
    finally:
        ingest.proc.kill()  # no need to wait for 200,000 rows
        ingest.stop()
        delivery.stop()
    assert fault_env.smtp.recorder.twice() == {}
