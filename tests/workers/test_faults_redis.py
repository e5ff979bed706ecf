"""Redis goes away for 30 s in the middle of a delivery and comes back empty (no persistence: the worst
case, every queued task message is lost). Real processes, as in production: a worker on both queues, the
beat scheduler, and the web app (`certmon serve --no-worker`).

- every alert is delivered exactly once (aiosmtpd counts per recipient; the outbox ends all `sent`):
  the outbox in PostgreSQL is the truth, Redis only says "deliver now";
- the worker and the web app reconnect on their own (nobody restarts them): after Redis is back, new
  alerts are delivered through it and /readyz answers 200 again;
- while Redis is down, /readyz answers 503 naming the broker, and /metrics says certmon_broker_up 0.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from certmon.config import get_settings
from tests.faults import Worker, eventually, free_port, ingest_alerts, listening, outbox, prepare_organisations
from workers.celery_app import DELIVERY_QUEUE, make_celery

pytestmark = [pytest.mark.slow, pytest.mark.pgserver]

OUTAGE_S = 30
FIRST, SECOND = 120, 30
OPS = {"Authorization": "Bearer faults-ops-token"}


def start(argv: list[str], log_path) -> tuple[subprocess.Popen, object]:
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop()
    return subprocess.Popen(argv, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT), log


def stop(proc: subprocess.Popen, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log.close()


def test_redis_outage_mid_delivery(fault_env, tmp_path, monkeypatch):
    port = free_port()
    for key, value in {"CERTMON_PORT": str(port), "CERTMON_OPS_TOKEN": "faults-ops-token",
                       "CERTMON_SMTP_RATE_PER_SECOND": "5", "CERTMON_SMTP_RATE_BURST": "1",
                       "CERTMON_DELIVERY_BUDGET_S": "8", "CERTMON_DELIVERY_TICK_S": "5"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    factory, smtp, broker = fault_env.factory, fault_env.smtp, fault_env.redis
    source_id, targets = prepare_organisations(factory, FIRST + SECOND)
    assert len(ingest_alerts(factory, source_id, targets[:FIRST])) == FIRST

    worker = Worker(tmp_path, "all")
    beat = start([sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "beat", "-l", "info",
                  "-s", str(tmp_path / "beat-schedule")], tmp_path / "beat.log")
    web = start([str(Path(sys.executable).with_name("certmon")), "serve", "--no-worker", "--no-setup"],
                tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    try:
        started = eventually(lambda: worker.ready() and listening(port), 60)
        assert started, worker.log() + (tmp_path / "web.log").read_text()
        assert httpx.get(f"{base}/readyz").status_code == 200
        make_celery(get_settings()).send_task("notify.send", args=[[]], queue=DELIVERY_QUEUE)
        assert eventually(lambda: smtp.recorder.total() >= 10, 60), worker.log()

        broker.stop()
        down_at = time.monotonic()
        answer = httpx.get(f"{base}/readyz", timeout=30)
        assert answer.status_code == 503, answer.text
        assert "broker" in answer.json()["problems"] and "database" not in answer.json()["problems"]
        metrics = httpx.get(f"{base}/metrics", headers=OPS, timeout=30).text
        assert "certmon_broker_up 0.0" in metrics
        assert smtp.recorder.total() < FIRST  # the outage really is in the middle of the delivery
        time.sleep(max(OUTAGE_S - (time.monotonic() - down_at), 0))
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503  # still down: still reported
        broker.start()  # empty: every task message it held is gone

        assert eventually(lambda: httpx.get(f"{base}/readyz", timeout=30).status_code == 200, 60)
        assert eventually(lambda: outbox(factory) == {"sent": FIRST}, 120), (outbox(factory), worker.log())
        # the worker consumes from the new Redis: alerts queued now are delivered through it
        assert len(ingest_alerts(factory, source_id, targets[FIRST:], flow=10_000)) == SECOND
        make_celery(get_settings()).send_task("notify.send", args=[[]], queue=DELIVERY_QUEUE)
        assert eventually(lambda: outbox(factory) == {"sent": FIRST + SECOND}, 120), (outbox(factory), worker.log())
        metrics = httpx.get(f"{base}/metrics", headers=OPS, timeout=30).text
        assert "certmon_broker_up 1.0" in metrics and 'certmon_queue_depth{queue="delivery"}' in metrics
        assert worker.proc.poll() is None and web[0].poll() is None  # nobody restarted them
    finally:
        worker.stop()
        stop(*beat)
        stop(*web)
    assert smtp.recorder.twice() == {}
    assert set(smtp.recorder.by_rcpt) == {address for _, address in targets}
