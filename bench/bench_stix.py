"""STIX ingest benchmark: feeds.stix.parse + a store step, against stix2.parse and orjson.loads.

Run: .venv/bin/python bench/bench_stix.py [--indicators N]
Prints objects/s for each measurement, the ratios (goals: >=100x stix2, >=0.5x orjson) and the
peak traced memory of parse+store as a multiple of the bundle size (goal <=3x).
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import stix2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from certmon.tlp import TLP
from feeds.base import ParseContext
from feeds.stix import parse

MARKINGS = [
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",  # TLP 1.0 GREEN
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",  # TLP 2.0 AMBER
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",  # TLP 2.0 CLEAR
]
STIX2_SLICE = 2000


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


def store(items: Iterable[Any]) -> int:
    """Placeholder store step: bulk insert into an in-memory SQLite table with executemany."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE item (key TEXT PRIMARY KEY, kind TEXT, type TEXT, value TEXT, tlp TEXT,"
               " confidence INTEGER, valid_from TEXT)")
    rows = ((i.key, i.kind, i.type, i.value, i.tlp, i.confidence, i.valid_from) for i in items)
    db.executemany("INSERT OR REPLACE INTO item VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    (count,) = db.execute("SELECT count(*) FROM item").fetchone()
    db.close()
    return int(count)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best of three wall-clock runs."""
    best, result = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def orjson_no_gc(data: bytes) -> Any:
    """Baseline 2: orjson.loads with the garbage collector off."""
    gc.disable()
    try:
        return orjson.loads(data)
    finally:
        gc.enable()


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--indicators", type=int, default=100_000)
    n = ap.parse_args().indicators
    ctx = ParseContext(default_tlp=TLP.AMBER, filename="bench")
    data = make_bundle(n)
    print(f"bundle: {n} indicators, {len(data) / 1e6:.1f} MB")

    t_parse, items = timed(lambda: list(parse(data, ctx)))
    t_full, stored = timed(lambda: store(parse(data, ctx)))
    t_orjson, _ = timed(lambda: orjson_no_gc(data))
    slice_bundle = make_bundle(STIX2_SLICE).decode()
    start = time.perf_counter()
    stix2.parse(slice_bundle, allow_custom=True)
    t_stix2 = (time.perf_counter() - start) / STIX2_SLICE * n  # extrapolated to n objects

    tracemalloc.start()
    store(parse(data, ctx))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def rate(seconds: float) -> str:
        return f"{n / seconds:>12,.0f} obj/s  ({seconds:.3f} s)"

    print(f"items yielded: {len(items)}, rows stored: {stored}")
    print(f"feeds.stix.parse          {rate(t_parse)}")
    print(f"parse + sqlite store      {rate(t_full)}")
    print(f"orjson.loads (gc off)     {rate(t_orjson)}")
    print(f"stix2.parse (extrapol.)   {rate(t_stix2)}  [{STIX2_SLICE}-object slice]")
    print(f"parse vs stix2:  {t_stix2 / t_parse:7.1f}x  (goal >= 100x)")
    print(f"parse vs orjson: {t_orjson / t_parse:7.2f}x  (goal >= 0.5x)")
    print(f"parse+store vs stix2: {t_stix2 / t_full:7.1f}x, vs orjson: {t_orjson / t_full:.2f}x")
    ratio = peak / len(data)
    print(f"peak traced memory parse+store: {peak / 1e6:.1f} MB = {ratio:.2f}x bundle (goal <= 3x)")


if __name__ == "__main__":
    main()
