"""`certmon notify flush` delivers the whole queue, digests included; `--due-only` leaves digests for their hour.

The console script runs in a subprocess against a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.db import make_engine
from certmon.notify.models import Notification
from certmon.notify.outbox import queue_alerts
from tests.notify.conftest import RecordingHandler
from tests.notify.notify_helpers import make_constituent, make_contact, make_match

ROOT = Path(__file__).resolve().parents[2]


def _certmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certmon.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def queued(tmp_path: Path, smtp_server: tuple[RecordingHandler, int]) -> tuple[dict[str, str], Path]:
    """A migrated SQLite database with one match queued for an immediate and a digest contact."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(CERTMON_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT),
               CERTMON_SECRET_KEY="flush-secret-" + "q" * 30, CERTMON_SMTP_HOST="127.0.0.1",
               CERTMON_SMTP_PORT=str(smtp_server[1]))
    assert _certmon(env, "db", "upgrade").returncode == 0
    db = tmp_path / "data" / "certmon.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        bergen = make_constituent(s, "Bergen kommune", org_number="964338531")
        make_contact(s, bergen, "vakt@bergen.kommune.no", mode="immediate")
        make_contact(s, bergen, "leder@bergen.kommune.no", mode="digest")
        queue_alerts(s, match_ids=[make_match(s, bergen).id])
        s.commit()
        modes = sorted(n.mode for n in s.scalars(select(Notification)))
    engine.dispose()
    assert modes == ["digest", "immediate"]
    return env, db


def _status_by_mode(db: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        found = {n.mode: n.status for n in s.scalars(select(Notification))}
    engine.dispose()
    return found


def _recipients(handler: RecordingHandler) -> list[str]:
    return sorted(str(m["To"]) for m in handler.messages)


@pytest.mark.slow
def test_flush_delivers_every_queued_alert_digests_included(queued, smtp_server) -> None:
    env, db = queued
    done = _certmon(env, "notify", "flush")
    assert done.returncode == 0, done.stderr
    assert _recipients(smtp_server[0]) == ["leder@bergen.kommune.no", "vakt@bergen.kommune.no"]
    assert _status_by_mode(db) == {"immediate": "sent", "digest": "sent"}
    assert "2 sendt" in done.stdout


@pytest.mark.slow
def test_flush_due_only_leaves_the_digest_for_its_hour(queued, smtp_server) -> None:
    env, db = queued
    done = _certmon(env, "notify", "flush", "--due-only")
    assert done.returncode == 0, done.stderr
    assert _recipients(smtp_server[0]) == ["vakt@bergen.kommune.no"]
    assert _status_by_mode(db) == {"immediate": "sent", "digest": "queued"}
    again = _certmon(env, "notify", "flush")  # the default then sends the digest that waited
    assert again.returncode == 0, again.stderr
    assert _recipients(smtp_server[0]) == ["leder@bergen.kommune.no", "vakt@bergen.kommune.no"]
    assert _status_by_mode(db) == {"immediate": "sent", "digest": "sent"}
