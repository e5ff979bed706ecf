"""`certmon contacts import|list` and `certmon notify flush|list` as an operator runs them."""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from certmon.db import make_engine
from certmon.notify.outbox import queue_alerts
from certmon.registry.models import Constituent
from tests.notify.notify_helpers import make_constituent, make_match

ROOT = Path(__file__).resolve().parents[2]


def _certmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from certmon.cli.main import run; run()", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(
        {
            "CERTMON_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
            "CERTMON_SECRET_KEY": "cli-secret-" + "q" * 30,
        }
    )
    assert _certmon(env, "db", "upgrade").returncode == 0
    return env


@pytest.mark.slow
def test_import_list_flush(env: dict[str, str], tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'certmon.sqlite'}")
    with Session(engine) as s:
        constituent_id = make_constituent(s, "Bergen kommune", org_number="964338531").id
        s.commit()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "org_number,email,name,language,tlp_max,mode\n"
        "964338531,ok@bergen.kommune.no,IT,nb,amber,immediate\n"
        "000000000,not-an-email,X,de,purple,weekly\n"
    )
    done = _certmon(env, "contacts", "import", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for needle in ("rad 3, org_number", "rad 3, email", "rad 3, language", "rad 3, tlp_max", "rad 3, mode"):
        assert needle in done.stderr
    assert "ok@bergen" not in _certmon(env, "contacts", "list").stdout  # all-or-nothing
    good = tmp_path / "good.csv"
    good.write_text(
        "org_number,email,name,language,tlp_max,mode\n"
        "964338531,ok@bergen.kommune.no,IT,nn,amber+strict,immediate\n"
    )
    assert _certmon(env, "contacts", "import", str(good)).returncode == 0
    listed = _certmon(env, "contacts", "list", "--org", "964338531").stdout
    assert "ok@bergen.kommune.no" in listed and "amber+strict" in listed
    with Session(engine) as s:
        m = make_match(s, s.get(Constituent, constituent_id))
        queue_alerts(s, match_ids=[m.id])
        s.commit()
    flushed = _certmon(env, "notify", "flush")
    assert flushed.returncode == 0, flushed.stderr
    assert re.search(r"sendt\s+HKC-2026-\d{6}", flushed.stdout) and "ok@bergen.kommune.no" in flushed.stdout
    box = mailbox.Maildir(str(tmp_path / "data" / "mail"), create=False)
    assert len(box) == 1
    assert "sent" in _certmon(env, "notify", "list").stdout
    engine.dispose()
