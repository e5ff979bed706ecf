"""Kill the delivering process with SIGKILL at each step; a restart delivers every e-mail exactly once.

The worker is a real separate process (`python -c`) calling deliver_due against a file SQLite
database and the aiosmtpd server running in this test process. A test-only hook
(CERTMON_TEST_PAUSE_AT) makes it stop at a named point; the test then SIGKILLs it.
Point "sent" is the one honest gap: the server has said 250 but we have not committed, so the
restart sends that message again — with the SAME Message-ID, which is what we assert.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certmon.db import make_engine
from certmon.dbops import upgrade
from certmon.notify.deliver import LEASE
from certmon.notify.models import Delivery
from certmon.notify.outbox import queue_alerts
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 3, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
WORKER = (
    "import sys; from datetime import datetime; from certmon.db import session_factory; "
    "from certmon.notify.deliver import deliver_due; "
    "r = deliver_due(session_factory(), now=datetime.fromisoformat(sys.argv[1])); print(len(r.sent))"
)


def _env(tmp_path: Path, port: int, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(
        {
            "CERTMON_DATABASE_URL": db_url,
            "CERTMON_DATA_DIR": str(tmp_path / "data"),
            "CERTMON_SMTP_HOST": "127.0.0.1",
            "CERTMON_SMTP_PORT": str(port),
            "CERTMON_SECRET_KEY": "crash-test-secret-" + "y" * 30,
            "CERTMON_MAIL_FROM": "varsel@kommunecert.no",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _run(env: dict[str, str], now: datetime) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, now.isoformat()],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _run_and_kill(env: dict[str, str], now: datetime, point: str, marker: Path) -> None:
    env = {**env, "CERTMON_TEST_PAUSE_AT": point, "CERTMON_TEST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, now.isoformat()],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.stderr.read().decode() if proc.poll() is not None else "worker never paused"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("point", ["claimed", "sent", "marked"])
def test_sigkill_then_restart_sends_each_exactly_once(tmp_path: Path, smtp_server, point: str) -> None:
    handler, port = smtp_server
    db_url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        c = make_constituent(s, "Bergen kommune")
        for i in range(3):
            make_contact(s, c, f"p{i}@bergen.kommune.no")
        queue_alerts(s, match_ids=[make_match(s, c).id for _ in range(2)], now=NOW)
        s.commit()
    env = _env(tmp_path, port, db_url)

    _run_and_kill(env, LATER, point, tmp_path / "paused")
    # A restart inside the lease leaves the killed worker's delivery alone (it might still be alive).
    _run(env, LATER + timedelta(minutes=1))
    with Session(engine) as s:
        statuses = Counter(s.scalars(select(Delivery.status)))
    assert statuses["sent"] >= 2
    # After the lease the stuck delivery is taken over and finished.
    _run(env, LATER + LEASE + timedelta(minutes=2))
    _run(env, LATER + LEASE + timedelta(minutes=30))  # nothing left: sends nothing more

    with Session(engine) as s:
        deliveries = s.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [d.status for d in deliveries] == ["sent"] * 3
    received = Counter(handler.message_ids())
    assert set(received) == {d.message_id for d in deliveries}  # every e-mail arrived, by Message-ID
    copies = sorted(received.values())
    if point == "sent":
        assert copies == [1, 1, 2]  # the one 250-before-commit duplicate, same Message-ID
    else:
        assert copies == [1, 1, 1]
    engine.dispose()
