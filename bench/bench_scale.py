"""Benchmark: certmon at a sector CERT's size — 1,000,000 indicators, 400 organisations, 20 sources.

The real parts: PostgreSQL with a Redis broker (or, with `--embedded`, SQLite and the filesystem broker)
and two Celery worker processes (`--pool=solo`, so each process's peak RSS is its own work), the API
and dashboard as their own process (`certmon serve --no-worker`), a loopback HTTP server serving the
generated feeds. The organisations are the real registry (and bench organisations up to `--orgs`), each
with ~5 assets (two networks, a domain, an e-mail domain, a product).

Measured and printed:

1. ingest: 20 generated feeds (14 Feodo Tracker CSVs of IPv4 C2s, 6 URLhaus CSVs of URLs), `--indicators`
   rows in all, fetched, parsed, stored, matched and alerted through `feeds.collect_source`: first two
   sources with one worker (items/s for one worker), then the other 18 with both (items/s for two);
   each worker's peak RSS (VmHWM);
2. re-match of the whole history after a registry change (`rematch_if_changed(force=True)`);
3. latency with `--clients` concurrent signed-in clients (dashboard cookie sessions, API bearer tokens),
   p50/p95/p99 per page: the situation picture, the triage queue, the indicator list and a search, an
   organisation page, the API indicator list at its first page, deep by `offset` and deep by `cursor`, and a
   search; `/healthz` under the same load is the baseline measured in the same run.

Goals (issue #11): p95 < 200 ms for every page and API list; deep pages no slower than the first; ingest
≤ 300 MB peak RSS per worker. Asserts nothing. `make bench-scale` (not in CI); `--quick` for 100k rows.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.bench_latency import (
    REDIS_URL,
    clear_queues,
    database,
    free_port,
    listening,
    percentile,
    stop,
    use_environment,
)

FEODO_HEAD = ('#  abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n#\n'
              '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n')
URLHAUS_HEAD = ("#  abuse.ch URLhaus Database Dump (CSV - recent URLs only)\n#\n"
                "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n")
MALWARE = ("Emotet", "QakBot", "Dridex", "Pikabot", "IcedID", "BumbleBee")


def feodo(n: int, rows: int, rng: random.Random, hits: list[str]) -> bytes:
    """One Feodo-style blocklist: `rows` addresses, a few inside registered networks."""
    out = [FEODO_HEAD]
    for i in range(rows):
        ip = rng.choice(hits) if i % 5000 == 0 and hits else \
            f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        day = 1 + (i + n) % 28
        out.append(f'"2026-11-{day:02d} 07:{i % 60:02d}:05","{ip}","{443 if i % 3 else 8080}","online",'
                   f'"2026-12-0{1 + i % 5}","{MALWARE[(i + n) % len(MALWARE)]}"\n')
    return "".join(out).encode()


def urlhaus(n: int, rows: int, rng: random.Random, domains: list[str]) -> bytes:
    """One URLhaus-style CSV: `rows` URLs on random hosts, a few on registered domains."""
    out = [URLHAUS_HEAD]
    for i in range(rows):
        host = f"cdn{i % 97}.{rng.choice(domains)}" if i % 5000 == 0 and domains else \
            f"{secrets.token_hex(4)}.example-{rng.randint(0, 9999)}.com"
        out.append(f'"{n * 10_000_000 + i}","2026-11-{1 + i % 28:02d} 12:05:20","http://{host}/{secrets.token_hex(3)}'
                   f'/load.bin","online","2026-12-01 12:05:20","malware_download","elf,Mozi",'
                   f'"https://urlhaus.abuse.ch/url/{i}/","bench"\n')
    return "".join(out).encode()


class Files:
    """The generated feeds, served from memory on loopback."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def prepare(orgs_needed: int, base: str, rows: int, seed: int, files: Files) -> dict[str, Any]:
    """Registry with ~5 assets per organisation, 20 sources, 20 analysts with passwords and tokens."""
    from sqlalchemy import select

    from certmon.auth.service import create_user, issue_token
    from certmon.db import session_scope
    from certmon.dbops import upgrade
    from certmon.registry.models import Asset, Constituent
    from certmon.registry.seed import seed_registry
    from certmon.sources.schemas import SourceCreate
    from certmon.sources.service import create_source

    rng = random.Random(seed)
    upgrade()
    with session_scope() as session:
        seed_registry(session)
    hits, domains = [], []
    with session_scope() as session:
        orgs = list(session.scalars(select(Constituent).order_by(Constituent.id)))
        for n in range(len(orgs), orgs_needed):
            c = Constituent(name=f"Benkvirksomhet {n}", kind="other", org_number=f"{800000000 + n}")
            session.add(c)
            orgs.append(c)
        session.flush()
        for n, c in enumerate(orgs[:orgs_needed]):
            domain = f"k{n}.bench-kommune.no"
            for kind, value in (("network", f"10.{n // 250}.{n % 250}.0/24"),
                                ("network", f"2001:db8:{n:x}::/48"), ("domain", domain),
                                ("email_domain", domain), ("product", f"fortinet:fortios:7.{n % 5}.{n % 9}")):
                session.add(Asset(constituent_id=c.id, type=kind, value=value))
            hits.append(f"10.{n // 250}.{n % 250}.{rng.randint(1, 254)}")
            domains.append(domain)
        from certmon.registry.service import bump_registry_version

        bump_registry_version(session)
        sources = []
        per_source = rows // 20
        for n in range(20):
            kind = "feodo" if n < 14 else "urlhaus"
            path = f"/feed-{n}.csv"
            files.files[path] = feodo(n, per_source, rng, hits) if kind == "feodo" else \
                urlhaus(n, per_source, rng, domains)
            sources.append(create_source(session, SourceCreate(
                name=f"bench-{kind}-{n}", format=kind, url=f"{base}{path}", interval_s=7 * 86400, internal=True,
                default_tlp="green"), actor="bench").id)
        users = []
        for n in range(20):
            email = f"analytiker{n}@bench.example"
            user = create_user(session, email=email, role="analyst", password="benk-passord-123")
            session.flush()
            users.append((email, issue_token(session, user=user, name="bench")))
        org_id = orgs[0].id
    return {"sources": sources, "users": users, "org": org_id,
            "bytes": sum(len(b) for b in files.files.values())}


def vm_hwm(pid: int) -> int:
    """A process's peak resident set size in bytes (VmHWM)."""
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) * 1024 if found else 0


def wait_runs(source_ids: list[int], timeout: float) -> tuple[float, int]:
    """Wait until each source has a finished run; (seconds, items read)."""
    from sqlalchemy import func, select

    from certmon.db import session_scope
    from certmon.sources.models import SourceRun

    start, deadline = time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            done = session.scalar(select(func.count(func.distinct(SourceRun.source_id))).where(
                SourceRun.source_id.in_(source_ids), SourceRun.finished_at.is_not(None))) or 0
            items = session.scalar(select(func.coalesce(func.sum(SourceRun.items_total), 0)).where(
                SourceRun.source_id.in_(source_ids))) or 0
        if done == len(source_ids):
            return time.monotonic() - start, int(items)
        time.sleep(0.5)
    raise SystemExit(f"ingest did not finish in {timeout:.0f} s")


async def sign_in(base: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=120, follow_redirects=False)
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on /login"
    r = await client.post("/login", data={"csrf_token": token.group(1), "email": email,
                                          "password": "benk-passord-123", "next": "/"})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return client


async def load(base: str, users: list[tuple[str, str]], urls: dict[str, tuple[str, bool]],
               rounds: int, think: float) -> dict[str, list[float]]:
    """Each client visits every URL `rounds` times in its own shuffled order, waiting about `think` seconds
    between requests (as a person reading a page); seconds per request."""
    clients = [await sign_in(base, email) for email, _ in users]
    times: dict[str, list[float]] = {name: [] for name in urls}
    errors: dict[str, int] = {}

    async def one(n: int) -> None:
        rng = random.Random(n)
        order = [name for name in urls for _ in range(rounds)]
        rng.shuffle(order)
        token = users[n][1]
        await asyncio.sleep(rng.uniform(0, think))  # the clients do not start in step
        for name in order:
            path, api = urls[name]
            headers = {"Authorization": f"Bearer {token}"} if api else {}
            t0 = time.perf_counter()
            r = await clients[n].get(path, headers=headers)
            times[name].append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors[f"{name} {r.status_code}"] = errors.get(f"{name} {r.status_code}", 0) + 1
            if think:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    await asyncio.gather(*(one(n) for n in range(len(clients))))
    for c in clients:
        await c.aclose()
    if errors:
        print(f"  non-200 answers: {errors}")
    return times


def deep_cursor(offset: int) -> str:
    """The API's cursor for the row at `offset` of the indicator list (what paging there would hand out)."""
    from sqlalchemy import select

    from certmon.db import session_scope
    from certmon.items import search
    from certmon.items.models import StoredItem

    with session_scope() as session:
        stmt = search.newest_first(session, select(StoredItem).where(StoredItem.kind == "indicator",
                                                                    StoredItem.revoked.is_(False)))
        row = session.scalars(stmt.offset(offset - 1).limit(1)).first()
        return search.encode_cursor(row) if row is not None else ""


def main() -> None:  # noqa: PLR0915 - one linear script: set up, measure, print, tear down
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indicators", type=int, default=1_000_000)
    ap.add_argument("--orgs", type=int, default=400)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5, help="visits of each URL per client")
    ap.add_argument("--think", type=float, default=1.0,
                    help="seconds a client waits between its requests (0: each client back to back, a saturation test)")
    ap.add_argument("--web-workers", type=int, default=2, help="CERTMON_WEB_WORKERS of the server")
    ap.add_argument("--embedded", action="store_true", help="SQLite and the filesystem broker")
    ap.add_argument("--quick", action="store_true", help="100k indicators, 2 rounds")
    ap.add_argument("--keep", action="store_true", help="with --embedded: keep the data folder (to look into)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    if args.quick:
        args.indicators, args.rounds = 100_000, 2
    embedded = args.embedded or not (listening(5432) and listening(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])))
    data_dir = Path(tempfile.mkdtemp(prefix="certmon-bench-scale-"))
    files = Files()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), files.handler())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    api_port = free_port()
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        with database(embedded, data_dir) as db_url:
            env = {"CERTMON_DATA_DIR": str(data_dir), "CERTMON_DATABASE_URL": db_url,
                   "CERTMON_SECRET_KEY": "bench-" + secrets.token_hex(16), "CERTMON_PORT": str(api_port),
                   "CERTMON_HOST": "127.0.0.1", "CERTMON_LOG_LEVEL": "WARNING", "CERTMON_DEMO": "0",
                   "CERTMON_SMTP_HOST": "", "CERTMON_SIGNIN_CLIENT_LIMIT": "1000/minute",
                   "CERTMON_WEB_WORKERS": str(args.web_workers)}
            if not embedded:
                env["CERTMON_BROKER_URL"] = REDIS_URL
                clear_queues()
            settings = use_environment(env)
            t0 = time.monotonic()
            world = prepare(args.orgs, f"http://127.0.0.1:{httpd.server_address[1]}", args.indicators, args.seed, files)
            print(f"set-up: {args.orgs} organisations × 5 assets, 20 sources with {args.indicators:,} rows "
                  f"({world['bytes'] / 1e6:.0f} MB of CSV), 20 analysts ({time.monotonic() - t0:.0f} s); "
                  f"database {'SQLite' if embedded else 'PostgreSQL'}, {os.cpu_count()} cores, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)

            logs = data_dir / "logs"
            logs.mkdir()
            workers = []
            for n in (1, 2):
                argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "worker", "--pool=solo",
                        "-Q", "celery,ingest", "-l", "WARNING", "-n", f"bench{n}@%h"]
                log = open(logs / f"worker{n}.log", "w")  # noqa: SIM115 - closed with the process
                proc = subprocess.Popen(argv, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                procs.append((proc, f"worker {n}"))
                workers.append(proc)
                if n == 1:
                    time.sleep(8)  # the first worker alone takes the first two sources
                    from workers.celery_app import make_celery

                    celery = make_celery(settings)
                    for sid in world["sources"][:2]:
                        celery.send_task("feeds.collect_source", args=[sid])
                    one_s, one_items = wait_runs(world["sources"][:2], 3600)
            for sid in world["sources"][2:]:
                celery.send_task("feeds.collect_source", args=[sid])
            two_s, two_items = wait_runs(world["sources"][2:], 3600)
            rss = [vm_hwm(p.pid) for p in workers]
            print("\ningest through feeds.collect_source (fetch, parse, store, match, alert)")
            print(f"  one worker:  {one_items:,} items in {one_s:.1f} s = {one_items / one_s:,.0f} items/s")
            print(f"  two workers: {two_items:,} items in {two_s:.1f} s = {two_items / two_s:,.0f} items/s "
                  f"({two_items / two_s / (one_items / one_s):.2f}× one worker)")
            print(f"  peak RSS per worker: {', '.join(f'{r / 2**20:.0f} MB' for r in rss)}   goal ≤ 300 MB")

            from certmon.db import session_factory
            from certmon.matching.service import rematch_if_changed

            t0 = time.monotonic()
            run = rematch_if_changed(session_factory(), force=True)
            print(f"  re-match of the whole history: {time.monotonic() - t0:.1f} s "
                  f"({len(run.new_ids) if run else 0} new matches)", flush=True)

            api_argv = [str(Path(sys.executable).parent / "certmon"), "serve", "--no-worker", "--no-setup"]
            log = open(logs / "api.log", "w")  # noqa: SIM115 - closed with the process
            procs.append((subprocess.Popen(api_argv, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True), "api"))
            deadline = time.monotonic() + 60
            while not listening(api_port):
                if time.monotonic() > deadline:
                    raise SystemExit("the API server did not start: " + (logs / "api.log").read_text()[-2000:])
                time.sleep(0.2)
            deep = min(900_000, int(args.indicators * 0.9))
            urls = {
                "/healthz (baseline)": ("/healthz", False),
                "/ situasjonsbilde": ("/", False),
                "/treff": ("/treff", False),
                "/indikatorer": ("/indikatorer", False),
                "/indikatorer?q=emotet": ("/indikatorer?q=emotet", False),
                "/virksomheter/{id}": (f"/virksomheter/{world['org']}", False),
                "API indicators limit=50": ("/api/v1/indicators?limit=50", True),
                "API indicators offset=10,000 (the most)": ("/api/v1/indicators?limit=50&offset=10000", True),
                f"API indicators cursor at {deep:,}": (f"/api/v1/indicators?limit=50&cursor={deep_cursor(deep)}", True),
                "API indicators q=10.1.": ("/api/v1/indicators?limit=50&q=10.1.", True),
                "API matches limit=50": ("/api/v1/matches?limit=50", True),
            }
            times = asyncio.run(load(f"http://127.0.0.1:{api_port}", world["users"][:args.clients], urls, args.rounds,
                                     args.think))
            base_p95 = percentile(times["/healthz (baseline)"], 95)
            print(f"\nlatency, {args.clients} concurrent signed-in clients, {args.rounds} visits each per URL, "
                  f"~{args.think:g} s between a client's requests, {args.web_workers} web workers "
                  f"(load {os.getloadavg()[0]:.1f})")
            print(f"  {'page':<40} {'p50':>8} {'p95':>8} {'p99':>8}  p95 vs goal 200 ms   p95 vs /healthz")
            for name, values in times.items():
                p50, p95, p99 = (percentile(values, p) * 1000 for p in (50, 95, 99))
                print(f"  {name:<40} {p50:7.0f}ms {p95:7.0f}ms {p99:7.0f}ms  {p95 / 200:6.2f}×"
                      f"              {p95 / 1000 / base_p95:6.1f}×")
            first = percentile(times["API indicators limit=50"], 95)
            for name in ("API indicators offset=10,000 (the most)", f"API indicators cursor at {deep:,}"):
                print(f"  {name} p95 / first page p95: {percentile(times[name], 95) / first:.2f}×")
    finally:
        for proc, what in reversed(procs):
            stop(proc, what)
        httpd.shutdown()
        if args.keep and embedded:
            print(f"kept: {data_dir} (CERTMON_DATA_DIR; the SQLite database is certmon.sqlite there)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
