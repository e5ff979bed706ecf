"""STIX ingest benchmark: decode, validate, extract AND store, against stix2.parse and orjson.loads.

Run: .venv/bin/python bench/bench_stix.py [--indicators N] [--repeat R] [--postgres] [--stix2-full]
(`make bench` runs it with --stix2-full.)

Measured, best of R runs each, on the same bundle bytes:
- parse only: `feeds.stix.parse`, fully consumed;
- parse + store: the product path of `feeds.collect.store_and_match` without the payload archive
  and the matching: `feeds.collect.parse_documents` (the adapter's item stream) consumed by
  `certmon.items.service.upsert_items`, into a fresh SQLite file migrated with
  `certmon.dbops.upgrade`, committed (and with --postgres the same into a fresh PostgreSQL database
  on 127.0.0.1:5432 that the script creates and drops);
- re-ingest: the same bundle stored again into the now filled database (every row unchanged);
- the whole CLI: `certmon parse --format stix FILE > /dev/null` as a subprocess, wall and CPU
  (user + system of the child), bytecode caches warm;
- baseline 1: `stix2.parse(bundle, allow_custom=True)` on a slice, extrapolated per object;
- baseline 2: `orjson.loads` of the full bytes with the garbage collector off.
Times are CPU seconds of this process (time.process_time; the machine is shared), except PostgreSQL,
whose server work happens in another process: wall-clock there.
Peak memory of parse + SQLite store is measured in a child process, which reads the bundle from a
file, as the RSS high-water mark (VmHWM, reset just before) minus the RSS before the parse, and as the
tracemalloc peak (Python allocations only; SQLite's own memory is not traced).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import stix2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from certmon.db import make_engine
from certmon.dbops import upgrade
from certmon.items.service import upsert_items
from certmon.sources.models import Source
from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.collect import parse_documents
from feeds.collect_types import Document
from feeds.stix import parse

MARKINGS = [
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",  # TLP 1.0 GREEN
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",  # TLP 2.0 AMBER
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",  # TLP 2.0 CLEAR
]
STIX2_SLICE = 2000
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CTX = ParseContext(default_tlp=TLP.AMBER, filename="bench")


def _pattern(i: int) -> str:
    a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
    shapes = (
        f"[ipv4-addr:value = '10.{a}.{b}.{c}']",
        f"[domain-name:value = 'host{i}.example{a}.com']",
        f"[url:value = 'http://bad{i}.example.net/path/{c}?q={b}']",
        f"[file:hashes.'SHA-256' = '{i:064x}']",
        f"[ipv4-addr:value = '192.0.{b}.{c}' OR domain-name:value = 'c2-{i}.example.org']",
        f"[network-traffic:dst_ref.value = '198.51.{b}.{c}' AND network-traffic:dst_port = 443]",
    )
    return shapes[i % len(shapes)]


def make_bundle(count: int) -> bytes:
    """A STIX 2.1 bundle of `count` indicators (mixed shapes, TLP marking refs) as JSON bytes."""
    objects: list[dict[str, Any]] = []
    for i in range(count):
        objects.append({
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.UUID(int=i + 1, version=4)}",
            "created": "2024-05-01T10:00:00.000Z", "modified": "2024-05-02T10:00:00.000Z",
            "name": f"Indicator {i}", "indicator_types": ["malicious-activity"],
            "pattern": _pattern(i), "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": "2024-05-01T10:00:00Z", "confidence": 50 + i % 50,
            "object_marking_refs": [MARKINGS[i % len(MARKINGS)]],
        })
    return orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})


def fresh_database(url: str) -> tuple[Engine, int]:
    """Migrate the database at `url` and create the source the items belong to."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        source = Source(name="bench-stix", format="stix", url="https://bench.invalid/stix.json")
        session.add(source)
        session.flush()
        source_id = source.id
    return engine, source_id


def ingest(engine: Engine, source_id: int, data: bytes) -> int:
    """Parse the bundle and upsert its items in one committed transaction, the way
    `feeds.collect.store_and_match` does (the adapter's stream straight into the store); returns the
    rows stored or touched."""
    ((_doc, items),) = parse_documents("stix", [Document(data, "bench.json")], CTX)
    with Session(engine) as session, session.begin():
        result = upsert_items(session, source_id=source_id, items=items)
    return len(result.changed_ids) + result.unchanged


def best_of(repeat: int, run: Callable[[], float]) -> float:
    """The smallest of `repeat` timings returned by `run`."""
    return min(run() for _ in range(repeat))


def clock(fn: Callable[[], Any], timer: Callable[[], float] = time.process_time) -> float:
    """Seconds of one call: CPU time of this process by default (the machine is shared, and every
    in-process measurement here is single-threaded and CPU-bound; SQLite in WAL mode with
    synchronous=NORMAL does not wait for the disk at commit)."""
    start = timer()
    fn()
    return timer() - start


def first_and_again(url: str, data: bytes, timer: Callable[[], float]) -> tuple[float, float, int]:
    """Seconds to ingest the bundle into the fresh database at `url`, then again (all unchanged)."""
    engine, source_id = fresh_database(url)
    start = timer()
    stored = ingest(engine, source_id, data)
    first = timer() - start
    start = timer()
    ingest(engine, source_id, data)
    again = timer() - start
    engine.dispose()
    return first, again, stored


def sqlite_runs(data: bytes, repeat: int) -> tuple[float, float, int]:
    """Best first-ingest and re-ingest times into fresh SQLite files; rows stored."""
    first, again, stored = float("inf"), float("inf"), 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-stix-") as tmp:
            one, two, stored = first_and_again(f"sqlite:///{tmp}/certmon.sqlite", data, time.process_time)
            first, again = min(first, one), min(again, two)
    return first, again, stored


def postgres_runs(data: bytes, repeat: int) -> tuple[float, float, int]:
    """Best first-ingest and re-ingest times into fresh PostgreSQL databases (created and dropped)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    first, again, stored = float("inf"), float("inf"), 0
    try:
        for _ in range(repeat):
            name = f"certmon_bench_{secrets.token_hex(4)}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
                one, two, stored = first_and_again(url, data, time.perf_counter)  # the server's time counts
                first, again = min(first, one), min(again, two)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    return first, again, stored


def orjson_no_gc(data: bytes) -> Any:
    """Baseline 2: orjson.loads with the garbage collector off."""
    gc.disable()
    try:
        return orjson.loads(data)
    finally:
        gc.enable()


def _vm_kb(field: str) -> int:
    """A VmRSS/VmHWM figure of this process from /proc/self/status, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux: `5` to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def memory_child(bundle_path: str) -> None:
    """In a fresh process: RSS growth, then tracemalloc peak, of parse + SQLite store (new rows).

    The RSS peak is VmHWM after resetting it just before the ingest. (ru_maxrss would not do: a child
    started by fork + exec carries the parent's RSS in it, which once made a 300 MB parent look
    like the ingest's own peak.)"""
    data = Path(bundle_path).read_bytes()
    result: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-stix-mem-") as tmp:
        for run, how in enumerate(("rss_delta", "traced_peak")):
            engine, source_id = fresh_database(f"sqlite:///{tmp}/certmon{run}.sqlite")
            ingest(engine, source_id, make_bundle(50))  # warm imports, caches and compiled statements
            gc.collect()
            if how == "rss_delta":
                if not _reset_peak_rss():
                    raise RuntimeError("cannot reset the RSS high-water mark (/proc/self/clear_refs)")
                before = _vm_kb("VmRSS")
                ingest(engine, source_id, data)
                result[how] = (_vm_kb("VmHWM") - before) * 1024
            else:
                tracemalloc.start()
                ingest(engine, source_id, data)
                result[how] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            engine.dispose()
    print(orjson.dumps(result).decode())


def measure_memory(data: bytes) -> dict[str, int]:
    """Run `memory_child` in a subprocess so the bundle generation does not mask the peak."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(data)
        f.flush()
        out = subprocess.run([sys.executable, __file__, "--memory-child", f.name],
                             check=True, capture_output=True, text=True).stdout
    result: dict[str, int] = orjson.loads(out.strip().splitlines()[-1])
    return result


def cli_runs(data: bytes, repeat: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds (user + system, children included) of the whole
    `certmon parse --format stix FILE > /dev/null` process, and the records it printed.

    Run as a user runs it: the installed `certmon` script, bytecode caches allowed (one untimed run
    first writes them; PYTHONDONTWRITEBYTECODE would make every run compile every import again).
    """
    script = Path(sys.executable).with_name("certmon")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(data)
        f.flush()
        command = [str(script), "parse", "--format", "stix", f.name]
        out = subprocess.run(command, check=True, capture_output=True, env=env).stdout
        records = out.count(b"\n")
        del out
        wall, cpu = float("inf"), float("inf")
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
            wall = min(wall, time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu, records


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--indicators", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    ap.add_argument("--postgres", action="store_true", help="also store into PostgreSQL on 127.0.0.1:5432")
    ap.add_argument("--stix2-full", action="store_true",
                    help="time stix2.parse on the whole bundle (the issue's 'same bytes'; ~2 min at 100k) "
                         "instead of extrapolating from a 2,000-object slice")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    n, repeat = args.indicators, args.repeat
    data = make_bundle(n)
    print(f"bundle: {n:,} indicators, {len(data) / 1e6:.1f} MB; best of {repeat} runs each")

    items = sum(1 for _ in parse(data, CTX))
    t_parse = best_of(repeat, lambda: clock(lambda: sum(1 for _ in parse(data, CTX))))
    t_sqlite, t_sqlite_again, stored = sqlite_runs(data, repeat)
    t_pg = postgres_runs(data, repeat) if args.postgres else None
    cli_wall, cli_cpu, cli_records = cli_runs(data, repeat)
    t_orjson = best_of(repeat, lambda: clock(lambda: orjson_no_gc(data)))
    if args.stix2_full:  # once: it takes minutes, and its garbage-collector cost grows with the bundle
        full_text = data.decode()
        t_stix2 = clock(lambda: stix2.parse(full_text, allow_custom=True))
        stix2_label = "stix2.parse (whole bundle, once)"
    else:
        slice_text = make_bundle(STIX2_SLICE).decode()
        t_slice = best_of(min(repeat, 2), lambda: clock(lambda: stix2.parse(slice_text, allow_custom=True)))
        t_stix2 = t_slice / STIX2_SLICE * n
        stix2_label = f"stix2.parse (extrapolated, {STIX2_SLICE})"
    memory = measure_memory(data)

    def line(label: str, seconds: float, ratios: bool = True) -> None:
        text_ = f"{label:<34}{n / seconds:>10,.0f} obj/s  {seconds:7.3f} s"
        if ratios:
            text_ += f"   {t_stix2 / seconds:6.1f}x stix2   {t_orjson / seconds:5.2f}x orjson"
        print(text_)

    print(f"items yielded: {items:,}; rows stored: {stored:,}; records printed by certmon parse: {cli_records:,}")
    print(f"{'':<34}{'objects/s':>16}  {'seconds':>7}   {'goal >=100x':>12}   {'goal >=0.5x':>12}")
    line("feeds.stix.parse only", t_parse)
    line("parse + store, SQLite (new rows)", t_sqlite)
    line("parse + store, SQLite (unchanged)", t_sqlite_again)
    if t_pg is not None:
        line("parse + store, PostgreSQL (new)", t_pg[0])
        line("parse + store, PostgreSQL (unch.)", t_pg[1])
    line("certmon parse process, CPU", cli_cpu)
    line("certmon parse process, wall", cli_wall)
    line("orjson.loads, gc off (baseline)", t_orjson, ratios=False)
    line(stix2_label, t_stix2, ratios=False)
    size = len(data)
    rss, traced = memory["rss_delta"], memory["traced_peak"]
    print(f"peak memory, parse + SQLite store (new rows), RSS growth: {rss / 1e6:.1f} MB"
          f" = {rss / size:.2f}x bundle (goal <= 3x)")
    print(f"peak memory, parse + SQLite store (new rows), tracemalloc (Python heap only):"
          f" {traced / 1e6:.1f} MB = {traced / size:.2f}x bundle")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("goals (parse + SQLite store of new rows, the issue's 'decode, validate, extract and store'):")
    print(f"  >= 100x stix2.parse:        {t_stix2 / t_sqlite:6.1f}x  {verdict(t_stix2 / t_sqlite >= 100)}"
          f"  (parse alone: {t_stix2 / t_parse:.1f}x)")
    print(f"  >= 0.5x orjson.loads gc off: {t_orjson / t_sqlite:6.2f}x  {verdict(t_orjson / t_sqlite >= 0.5)}"
          f"  (parse alone: {t_orjson / t_parse:.2f}x)")
    print(f"  certmon parse process >= 50x stix2.parse: {t_stix2 / cli_cpu:6.1f}x CPU, {t_stix2 / cli_wall:.1f}x wall"
          f"  {verdict(t_stix2 / cli_cpu >= 50)}")
    print(f"  peak memory <= 3x bundle:   {rss / size:6.2f}x  {verdict(rss / size <= 3)}  (RSS growth)")


if __name__ == "__main__":
    main()
