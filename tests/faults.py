"""Real services the fault tests own: Redis, PostgreSQL and SMTP servers on private loopback ports that
a test can stop and start, Celery worker processes, and a quick way to queue a few hundred alerts.

Nothing here touches the shared 127.0.0.1:5432/6379 servers. PostgreSQL runs from the Debian
binaries in /usr/lib/postgresql/*/bin as the `postgres` OS user (the server refuses root), with its
data directory and socket in a throwaway folder under /tmp (pytest's own folders are 0700 root).
"""

from __future__ import annotations

import email
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def eventually(predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.3) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed (a generous 'eventually')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# --- Redis -------------------------------------------------------------------------------------------------
class RedisServer:
    """`redis-server` on a private port; `stop()` kills it (data lost, the worst case), `start()` brings it
    back on the same port."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.folder, self.port = folder, free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert eventually(lambda: listening(self.port), 20), "redis-server did not start"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None
        assert eventually(lambda: not listening(self.port), 10)


# --- PostgreSQL --------------------------------------------------------------------------------------------
def pg_bin(tool: str) -> str:
    """A PostgreSQL server binary (initdb, pg_ctl) from the newest installed major version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail(f"PostgreSQL server binaries ({tool}) are not installed in /usr/lib/postgresql/*/bin")
    return found[-1]


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb, trust auth, fsync off) on a private port, run as the
    `postgres` OS user when we are root; `restart()` is `pg_ctl restart -m fast`: every connection drops."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="certmon-faults-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(pg_bin("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"{argv[0]} failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


# --- SMTP --------------------------------------------------------------------------------------------------
class Recorder:
    """Counts what the relay accepted: per recipient and per Message-ID."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_rcpt: Counter[str] = Counter()
        self.by_message_id: Counter[str] = Counter()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.by_rcpt[rcpt.lower()] += 1
                self.by_message_id[str(msg["Message-ID"]).strip()] += 1
        return "250 2.0.0 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.by_rcpt.values())

    def twice(self) -> dict[str, int]:
        with self.lock:
            return {rcpt: n for rcpt, n in self.by_rcpt.items() if n > 1}


class SmtpServer:
    """aiosmtpd in a thread on a fixed private port; `stop()` closes the port (connections refused),
    `start()` opens it again on the same port with the same recorder."""

    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self._controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- Celery workers ----------------------------------------------------------------------------------------
class Worker:
    """A real `celery worker` process (solo pool) with the test's CERTMON_* environment."""

    def __init__(self, folder: Path, name: str, *, queues: str | None = None, extra: dict[str, str] | None = None,
                 beat: bool = False):
        self.log_path = folder / f"worker-{name}.log"
        env = dict(os.environ)
        env.update(extra or {})
        argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "worker", "--pool=solo",
                "-l", "info", "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
        if queues:
            argv += ["-Q", queues]
        if beat:  # the scheduler in the same process (as `certmon serve` runs it)
            argv += ["-B", "-s", str(folder / f"beat-{name}")]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def ready(self) -> bool:
        return "ready." in self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# --- alerts ------------------------------------------------------------------------------------------------
def eve_alert(ip: str, flow: int) -> str:
    """One Suricata EVE alert line (severity 1, high): an outside scanner against `ip`."""
    return json.dumps({"timestamp": "2026-03-10T09:26:53.589793+0100", "flow_id": flow, "event_type": "alert",
                       "src_ip": "185.220.101.34", "src_port": 40000 + flow % 20000, "dest_ip": ip,
                       "dest_port": 3389, "proto": "TCP",
                       "alert": {"signature_id": 2023753, "severity": 1, "category": "Attempted Information Leak",
                                 "signature": "ET SCAN MS Terminal Server Traffic on Non-standard Port"}}) + "\n"


def prepare_organisations(factory: Any, count: int) -> tuple[int, list[tuple[str, str]]]:
    """`count` organisations of the seeded registry, each with a network and one immediate contact, and a
    push-only Suricata source; returns (source id, [(an address in each network, its contact's e-mail)])."""
    from sqlalchemy import select

    from certmon.registry.assets import add_asset
    from certmon.registry.models import Constituent, Contact
    from certmon.sources.schemas import SourceCreate
    from certmon.sources.service import create_source

    with factory.begin() as session:
        orgs = list(session.scalars(select(Constituent).order_by(Constituent.id).limit(count)))
        assert len(orgs) == count, f"the seeded registry has only {len(orgs)} organisations"
        targets = []
        for n, org in enumerate(orgs):
            add_asset(session, constituent_id=org.id, asset_type="network", value=f"10.{n // 250}.{n % 250}.0/24",
                      actor="test")
            address = f"sikkerhet@k{n}.faults.example"
            session.add(Contact(constituent_id=org.id, email=address, name="Sikkerhet", language="nb",
                                tlp_max="amber", mode="immediate", min_severity="low"))
            targets.append((f"10.{n // 250}.{n % 250}.10", address))
        source_id = create_source(session, SourceCreate(name="faults-sensor", format="suricata", url="push:",
                                                        interval_s=3600, internal=True, default_tlp="amber"),
                                  actor="test").id
    return source_id, targets


def ingest_alerts(factory: Any, source_id: int, targets: list[tuple[str, str]], flow: int = 1) -> list[int]:
    """Run one EVE document naming every target through the real pipeline; returns the queued notifications."""
    from feeds.collect import Document, run_source

    body = "".join(eve_alert(ip, flow + n) for n, (ip, _) in enumerate(targets)).encode()
    report = run_source(factory, source_id, documents=[Document(body, "faults.json")])
    assert report.outcome == "ok", report.error
    return report.notification_ids


def store_transaction_open(pg_port: int, database: str) -> bool:
    """True while another backend holds a transaction that has written to the items table (an ingest's
    one store transaction is under way)."""
    import psycopg

    try:
        with psycopg.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname=database,
                             connect_timeout=2, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND backend_xid IS NOT NULL AND query ILIKE %s", (database, "%items%")).fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False


def outbox(factory: Any) -> Counter[str]:
    """Deliveries per status."""
    from sqlalchemy import func, select

    from certmon.notify.models import Delivery

    with factory() as session:
        return Counter(dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()))
