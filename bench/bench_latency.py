"""Benchmark: how long a finding takes to reach the organisation's mail server, end to end.

The real parts: a Celery worker process with the scheduler (`certmon serve`'s own worker command), the
API server as its own process (`certmon serve --no-worker`), PostgreSQL and Redis (embedded SQLite and
the filesystem broker with `--embedded`, or when either is not running), an aiosmtpd SMTP server and a
loopback HTTP feed server in this process. Every finding is a Suricata EVE alert of severity 1 against
an address in one organisation's network (certmon: severity high, at the default policy's at-once
severity), each organisation getting one finding, so every one is the first of its grouping window.

Measured, each from this process's clock to the moment the SMTP server accepts the message:

- push: `POST /api/v1/sources/{name}/items` with one alert (a feeder account's token);
- collection run: one new alert on the feed server, then `feeds.collect_source` queued (as *Kjør nå*);
- published: alerts appear on the feed server at random moments over a few poll intervals (the source
  polled every 60 s, the least allowed) and the scheduler finds them;
- sector-wide: one push naming N organisations at once (default 400), until the last of the N e-mails.

Prints p50/p95/max per path next to the goals (push and run p95 ≤ 10 s; published ≤ interval + 10 s;
400 e-mails within 60 s). Asserts nothing. Run: `.venv/bin/python bench/bench_latency.py [--quick]`.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiosmtpd.controller import Controller

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("CERTMON_BENCH_REDIS_URL") or os.environ.get("CERTMON_TEST_REDIS_URL") \
    or "redis://127.0.0.1:6379/15"
POLL_INTERVAL_S = 60  # the shortest interval a source may have
QUIET = '{"event_type": "stats", "timestamp": "2026-03-10T09:00:00+0100"}\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def alert(ip: str, flow: int) -> str:
    """One EVE alert line: an outside scanner against `ip` (severity 1)."""
    return json.dumps({"timestamp": "2026-03-10T09:26:53.589793+0100", "flow_id": flow, "event_type": "alert",
                       "src_ip": "185.220.101.34", "src_port": 40000 + flow % 20000, "dest_ip": ip,
                       "dest_port": 3389, "proto": "TCP",
                       "alert": {"signature_id": 2023753, "severity": 1, "category": "Attempted Information Leak",
                                 "signature": "ET SCAN MS Terminal Server Traffic on Non-standard Port"}}) + "\n"


# --- the SMTP server and the feed server ------------------------------------------------------------------
class Accepting:
    """Records when each recipient's message was accepted."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        now = time.time()
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                self.accepted.setdefault(rcpt.lower(), now)
        return "250 2.0.0 OK"

    def wait_for(self, rcpts: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(r in self.accepted for r in rcpts):
                    return True
            time.sleep(0.02)
        return False


class Feeds:
    """Documents served from memory, with a strong ETag (conditional GET answered honestly)."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def append(self, path: str, text: str) -> None:
        with self.lock:
            self.docs[path] = self.docs.get(path, b"") + text.encode()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        feeds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with feeds.lock:
                    body = feeds.docs.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


# --- the database and processes -----------------------------------------------------------------------------
@contextmanager
def database(embedded: bool, data_dir: Path) -> Iterator[str]:
    if embedded:
        yield f"sqlite:///{data_dir / 'certmon.sqlite'}"
        return
    from sqlalchemy import create_engine, text

    name = f"certmon_bench_latency_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from certmon.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def use_environment(env: dict[str, str]) -> Any:
    """Make `env` this process's certmon configuration (other CERTMON_ variables dropped); its Settings."""
    for key in [k for k in os.environ if k.startswith("CERTMON_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)
    from certmon.config import get_settings

    get_settings.cache_clear()
    return get_settings()


def clear_queues() -> None:
    """Drop leftovers of earlier runs from this Redis database's Celery queues (nothing else)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete("celery", "delivery", "unacked", "unacked_index")


def stop(proc: subprocess.Popen[bytes], what: str) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{what} did not stop in 30 s; killing it", file=sys.stderr)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def prepare(orgs_needed: int) -> dict[str, Any]:
    """Registry, contacts, sources, a feeder token; returns what the scenarios need."""
    from sqlalchemy import select

    from certmon.auth.service import create_user, issue_token
    from certmon.db import session_scope
    from certmon.dbops import upgrade
    from certmon.registry.assets import add_asset
    from certmon.registry.models import Constituent, Contact
    from certmon.registry.seed import seed_registry
    from certmon.sources.feeders import grant_feeder
    from certmon.sources.schemas import SourceCreate
    from certmon.sources.service import create_source

    upgrade()
    with session_scope() as session:
        seed_registry(session)
    with session_scope() as session:
        orgs = list(session.scalars(select(Constituent).order_by(Constituent.id)))
        for n in range(len(orgs), orgs_needed):  # beyond the real registry: organisations of the bench's own
            c = Constituent(name=f"Benkvirksomhet {n}", kind="other", org_number=f"{800000000 + n}")
            session.add(c)
            orgs.append(c)
        session.flush()
        targets = []
        for n, c in enumerate(orgs[:orgs_needed]):
            net = f"10.{n // 250}.{n % 250}.0/24"
            add_asset(session, constituent_id=c.id, asset_type="network", value=net, actor="bench")
            email = f"sikkerhet@k{n}.bench.example"
            session.add(Contact(constituent_id=c.id, email=email, name="Sikkerhet", language="nb",
                                tlp_max="amber", mode="immediate", min_severity="low"))
            targets.append((f"10.{n // 250}.{n % 250}.10", email))
        sources = {}
        for name, url, interval in (("bench-sensor", "push:", 3600),
                                    ("bench-run", f"{os.environ['BENCH_FEED_BASE']}/run.json", 7 * 86400),
                                    ("bench-poll", f"{os.environ['BENCH_FEED_BASE']}/poll.json", POLL_INTERVAL_S),
                                    ("bench-sector", "push:", 3600)):
            sources[name] = create_source(session, SourceCreate(
                name=name, format="suricata", url=url, interval_s=interval, internal=True, default_tlp="amber"),
                actor="bench").id
        feeder = create_user(session, email="sensor@bench.example", role="feeder", password=None)
        session.flush()
        for name in ("bench-sensor", "bench-sector"):
            from certmon.sources.models import Source

            grant_feeder(session, source=session.get_one(Source, sources[name]), email=feeder.email, actor="bench")
        token = issue_token(session, user=feeder, name="bench")
    return {"targets": targets, "sources": sources, "token": token}


# --- the scenarios ------------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def push_path(base: str, token: str, smtp: Accepting, targets: list[tuple[str, str]]) -> tuple[list[float], int]:
    latencies, missing = [], 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for n, (ip, rcpt) in enumerate(targets):
            t0 = time.time()
            answer = client.post("/api/v1/sources/bench-sensor/items", content=alert(ip, n).encode())
            if answer.status_code != 202:
                raise SystemExit(f"push refused: {answer.status_code} {answer.text}")
            if smtp.wait_for([rcpt], 60):
                latencies.append(smtp.accepted[rcpt] - t0)
            else:
                missing += 1
            time.sleep(0.2)
    return latencies, missing


def run_path(celery: Any, feeds: Feeds, source_id: int, smtp: Accepting,
             targets: list[tuple[str, str]]) -> tuple[list[float], int]:
    latencies, missing = [], 0
    for n, (ip, rcpt) in enumerate(targets):
        feeds.append("/run.json", alert(ip, 10_000 + n))
        t0 = time.time()
        celery.send_task("feeds.collect_source", args=[source_id])
        if smtp.wait_for([rcpt], 90):
            latencies.append(smtp.accepted[rcpt] - t0)
        else:
            missing += 1
        time.sleep(0.2)
    return latencies, missing


def published_path(feeds: Feeds, smtp: Accepting, targets: list[tuple[str, str]],
                   cycles: int) -> tuple[list[float], int]:
    window = cycles * POLL_INTERVAL_S
    start = time.time()
    moments = sorted(random.uniform(0, window) for _ in targets)
    published: dict[str, float] = {}
    for n, ((ip, rcpt), at) in enumerate(zip(targets, moments, strict=True)):
        time.sleep(max(0.0, start + at - time.time()))
        feeds.append("/poll.json", alert(ip, 20_000 + n))
        published[rcpt] = time.time()
    smtp.wait_for(list(published), POLL_INTERVAL_S + 120)
    latencies = [smtp.accepted[r] - t for r, t in published.items() if r in smtp.accepted]
    return latencies, len(published) - len(latencies)


def sector_path(base: str, token: str, smtp: Accepting, targets: list[tuple[str, str]]) -> dict[str, float]:
    body = "".join(alert(ip, 30_000 + n) for n, (ip, _r) in enumerate(targets)).encode()
    rcpts = [r for _ip, r in targets]
    t0 = time.time()
    answer = httpx.post(f"{base}/api/v1/sources/bench-sector/items", content=body,
                        headers={"Authorization": f"Bearer {token}"}, timeout=300)
    answered = time.time() - t0
    if answer.status_code != 202:
        raise SystemExit(f"sector push refused: {answer.status_code} {answer.text}")
    smtp.wait_for(rcpts, 300)
    got = sorted(smtp.accepted[r] - t0 for r in rcpts if r in smtp.accepted)
    return {"answered": answered, "first": got[0] if got else float("nan"), "last": got[-1] if got else float("nan"),
            "delivered": len(got), "bytes": len(body)}


def line(label: str, values: list[float], missing: int, goal: str) -> None:
    if not values:
        print(f"  {label:<34} no message arrived ({missing} missing)   goal {goal}")
        return
    print(f"  {label:<34} n={len(values):>3}  p50 {percentile(values, 50):6.2f} s  p95 {percentile(values, 95):6.2f} s"
          f"  max {max(values):6.2f} s  {'' if not missing else f'({missing} never arrived) '}goal {goal}")


def main() -> None:  # noqa: PLR0915 - one linear script: set up, measure, print, tear down
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=30, help="findings per path (≥ 30 for the goal)")
    ap.add_argument("--cycles", type=int, default=3, help="poll intervals to publish over (published path)")
    ap.add_argument("--sector", type=int, default=400, help="organisations in the sector-wide push")
    ap.add_argument("--quick", action="store_true", help="10 findings, 1 cycle, 100 organisations")
    ap.add_argument("--embedded", action="store_true", help="SQLite and the filesystem broker")
    args = ap.parse_args()
    if args.quick:
        args.findings, args.cycles, args.sector = 10, 1, 100
    redis_up = listening(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    embedded = args.embedded or not (listening(5432) and redis_up)
    data_dir = Path(tempfile.mkdtemp(prefix="certmon-bench-latency-"))

    smtp = Accepting()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    feeds = Feeds()
    feeds.append("/run.json", QUIET)
    feeds.append("/poll.json", QUIET)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), feeds.handler())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    api_port = free_port()
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        with database(embedded, data_dir) as db_url:
            env = {"CERTMON_DATA_DIR": str(data_dir), "CERTMON_DATABASE_URL": db_url,
                   "CERTMON_SECRET_KEY": "bench-" + secrets.token_hex(16), "CERTMON_SMTP_HOST": "127.0.0.1",
                   "CERTMON_SMTP_PORT": str(smtp_port), "CERTMON_PORT": str(api_port), "CERTMON_HOST": "127.0.0.1",
                   "CERTMON_LOG_LEVEL": "WARNING", "CERTMON_DEMO": "0",
                   "BENCH_FEED_BASE": f"http://127.0.0.1:{httpd.server_address[1]}"}
            if not embedded:
                env["CERTMON_BROKER_URL"] = REDIS_URL
                clear_queues()
            settings = use_environment(env)
            need = 3 * args.findings + args.sector
            t_setup = time.monotonic()
            world = prepare(need)
            print(f"set-up: {need} organisations with a network and a contact, 4 sources "
                  f"({time.monotonic() - t_setup:.1f} s)", flush=True)
            targets = world["targets"]
            push_targets = targets[:args.findings]
            run_targets = targets[args.findings:2 * args.findings]
            poll_targets = targets[2 * args.findings:3 * args.findings]
            sector_targets = targets[3 * args.findings:3 * args.findings + args.sector]

            from certmon import plugins

            logs = data_dir / "logs"
            logs.mkdir()
            worker_argv = plugins.require("workers").worker_command(settings)
            api_argv = [str(Path(sys.executable).parent / "certmon"), "serve", "--no-worker", "--no-setup"]
            for argv, what in ((worker_argv, "worker"), (api_argv, "api")):
                log = open(logs / f"{what}.log", "w")  # noqa: SIM115 - closed with the process
                procs.append((subprocess.Popen(argv, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True), what))
            deadline = time.monotonic() + 60
            while not listening(api_port):
                if time.monotonic() > deadline:
                    raise SystemExit("the API server did not start: " + (logs / "api.log").read_text()[-2000:])
                time.sleep(0.2)
            from workers.celery_app import make_celery

            celery = make_celery(settings)
            # the scheduler's first tick runs every source once (the run source's only run until we ask)
            time.sleep(settings.scheduler_tick_s + 5)

            print(f"database {'SQLite (embedded)' if embedded else 'PostgreSQL'}, broker "
                  f"{'filesystem (embedded)' if embedded else 'Redis'}, worker: {' '.join(worker_argv[3:])}; "
                  f"scheduler tick {settings.scheduler_tick_s} s, SMTP rate {settings.smtp_rate_per_second:g}/s "
                  f"(burst {settings.smtp_rate_burst}); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
                  flush=True)
            push, push_missing = push_path(f"http://127.0.0.1:{api_port}", world["token"], smtp, push_targets)
            print("push done", flush=True)
            run, run_missing = run_path(celery, feeds, world["sources"]["bench-run"], smtp, run_targets)
            print("collection runs done", flush=True)
            polled, poll_missing = published_path(feeds, smtp, poll_targets, args.cycles)
            print("published path done", flush=True)
            sector = sector_path(f"http://127.0.0.1:{api_port}", world["token"], smtp, sector_targets)

            print(f"\nfinding → message accepted by the SMTP server ({args.findings} findings per path, "
                  "each the first of its organisation's window)")
            line("push (POST …/items)", push, push_missing, "p95 ≤ 10 s")
            line("collection run (queued → SMTP)", run, run_missing, "p95 ≤ 10 s")
            line(f"published → SMTP (poll {POLL_INTERVAL_S} s)", polled, poll_missing,
                 f"max ≤ {POLL_INTERVAL_S + 10} s")
            print(f"  sector-wide push, {args.sector} organisations ({sector['bytes']:,} bytes): answered 202 after "
                  f"{sector['answered']:.2f} s; first e-mail {sector['first']:.2f} s, last ({sector['delivered']:.0f} "
                  f"of {args.sector}) {sector['last']:.2f} s after the push   goal: 400 within 60 s")
            print(f"  SMTP messages accepted in all: {smtp.count}; load at the end {os.getloadavg()[0]:.1f}")
    finally:
        for proc, what in reversed(procs):
            stop(proc, what)
        httpd.shutdown()
        controller.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
