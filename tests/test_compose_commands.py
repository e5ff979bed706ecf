"""docker-compose.yml cannot run here (no Docker engine), so run every command it names, for real,
against PostgreSQL and Redis on loopback: setup, api, the two workers and beat together."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
import yaml
from sqlalchemy import func, select

from certmon.config import get_settings
from certmon.registry.models import Constituent
from certmon.sources.models import Source
from tests.conftest import REDIS_URL, _require_port, free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def compose_commands():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: svc.get("command") for name, svc in spec["services"].items()}


def test_compose_file_is_complete():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "setup", "api", "worker-ingest", "worker-delivery", "beat", "mailcatcher"} <= set(
        spec["services"])
    # ingest and delivery each have their own worker and queue (a big feed never sits in front of an alert)
    assert spec["services"]["worker-ingest"]["command"][4:6] == ["-Q", "celery"]
    assert spec["services"]["worker-delivery"]["command"][4:6] == ["-Q", "delivery"]
    env = spec["x-certmon"]["environment"]
    for name in ("CERTMON_DATABASE_URL", "CERTMON_BROKER_URL", "CERTMON_SECRET_KEY", "CERTMON_SMTP_HOST"):
        assert name in env
    assert "CMD" not in (ROOT / "Dockerfile").read_text().split("CMD", 1)[0][-5:]
    assert '"certmon", "serve", "--no-worker", "--no-setup"' in (ROOT / "Dockerfile").read_text()


def _argv(command):
    head, *rest = command
    if head == "certmon":
        return [sys.executable, "-m", "certmon.cli", *rest]
    if head == "celery":
        return [sys.executable, "-m", "celery", *rest]
    raise AssertionError(f"unexpected command {command}")


def test_every_compose_command_runs(pg_env, tmp_path, monkeypatch):
    _require_port(6379, "Redis")
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    port = free_port()
    env = dict(os.environ, CERTMON_BROKER_URL=REDIS_URL, CERTMON_PORT=str(port), CERTMON_HOST="127.0.0.1")
    commands = compose_commands()
    beat_cmd = [c.replace("/var/lib/certmon", str(tmp_path)) for c in commands["beat"]]

    setup = subprocess.run(_argv(commands["setup"]), env=env, capture_output=True, text=True, timeout=180)
    assert setup.returncode == 0, setup.stderr
    with pg_env.factory() as session:
        assert session.scalar(select(func.count(Constituent.id))) == 403
        assert session.scalar(select(func.count(Source.id))) >= 10

    procs = []
    logs = {}
    try:
        for name, argv in (("api", _argv(commands["api"])), ("worker", _argv(commands["worker-ingest"])),
                           ("worker-delivery", _argv(commands["worker-delivery"])), ("beat", _argv(beat_cmd))):
            logs[name] = open(tmp_path / f"{name}.log", "w")
            procs.append(subprocess.Popen(argv, env=env, stdout=logs[name], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = r.status
                    break
            except OSError:
                time.sleep(0.5)
        assert ready == 200, (tmp_path / "api.log").read_text()[-2000:]
        # beat sends feeds.schedule_due; the worker runs it and claims the due sources
        deadline = time.monotonic() + 60
        claimed = 0
        while time.monotonic() < deadline and not claimed:
            with pg_env.factory() as session:
                claimed = session.scalar(select(func.count(Source.id)).where(Source.last_run_at.is_not(None)))
            time.sleep(1)
        assert claimed, (tmp_path / "beat.log").read_text()[-2000:] + (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs.values():
            log.close()
        broker.flushdb()
        get_settings.cache_clear()
