"""Side by side with IntelMQ: the same abuse.ch files through IntelMQ's parser bots and through certmon.

    make bench-peers                 # creates .venv-peers/ with intelmq (bench/requirements-peers.txt)
    .venv/bin/python bench/bench_peers.py --peers-python .venv-peers/bin/python [--rows 100000]
        [--repeat 2] [--runs 1]

Files, written to a temporary directory so both sides read the same bytes: a Feodo Tracker CSV and a
URLhaus CSV of `--rows` rows each from `bench_scale.feodo()` / `bench_scale.urlhaus()`, the same Feodo
rows as the JSON export (`ipblocklist.json`, the file IntelMQ's Feodo Tracker bot is made for), and the
real samples in tests/fixtures/abusech/.

IntelMQ (`intelmq` from PyPI, its own virtualenv, run by bench/peers_intelmq.py in a child process):
the bot its feeds.yaml names for the feed (`abusech.parser_feodotracker` for the Feodo JSON, the
generic CSV parser with feeds.yaml's URLhaus columns for the TLD feed; the generic CSV parser with the
files' columns for the Feodo CSV and the URLhaus "recent" dump) in IntelMQ's library mode, timed over
`process_message(report)`: base64-decoding the report, `parse`, `parse_line` with every `event.add`
and its harmonization, the raw line per event, the in-memory send. Not included: Redis, message
serialisation, the collector (building the Report).

certmon (this process): `feeds.abusech.parse_feodo` / `parse_urlhaus` on the bytes, every item
built (`list(...)`), then `MatchEngine.match_many` over those items against a registry of `--orgs`
organisations (an IPv4 /24, an IPv6 /48, a domain and an e-mail domain each; the engine is built
once, before timing, as a worker keeps it). Not included: storing, alerting.

Both sides: CPU seconds of their own process (`time.process_time`), best of `--repeat`, garbage
collector on; with `--runs` the whole comparison is repeated and the median printed. Goal (issue
#11): certmon (parse + match) ≥ 10× IntelMQ's parse. Asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_scale import feodo, urlhaus
from certmon.items.schemas import Item
from certmon.matching import AssetRef, ConstituentRef, MatchEngine, RegistrySnapshot
from feeds.abusech import parse_feodo, parse_urlhaus
from feeds.base import ParseContext

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "abusech"
CSV_BOT = "intelmq.bots.parsers.generic.parser_csv"
URLHAUS_TYPES = {"malware_download": "malware-distribution"}
# IntelMQ parser configuration per file kind; feeds.yaml's own where it has one.
INTELMQ: dict[str, dict[str, Any]] = {
    "feodo-json": {"module": "intelmq.bots.parsers.abusech.parser_feodotracker", "parameters": {}},
    "feodo-csv": {"module": CSV_BOT, "parameters": {
        "columns": ["time.source", "source.ip", "source.port", "status", "extra.last_online", "malware.name"],
        "type": "c2-server", "skip_header": 1}},
    "urlhaus-recent": {"module": CSV_BOT, "parameters": {
        "type_translation": URLHAUS_TYPES,
        "columns": ["__IGNORE__", "time.source", "source.url", "status", "extra.last_online",
                    "classification.type", "extra.tags", "extra.urlhaus_link", "extra.reporter"],
        "columns_required": [False, True, True, True, False, True, False, False, False]}},
    "urlhaus-tld": {"module": CSV_BOT, "parameters": {  # feeds.yaml "URLhaus", verbatim
        "skip_header": False, "default_url_protocol": "http://", "type_translation": URLHAUS_TYPES,
        "delimiter": ",", "columns": ["time.source", "source.url", "status", "classification.type|__IGNORE__",
                                      "source.fqdn|__IGNORE__", "source.ip", "source.asn",
                                      "source.geolocation.cc"]}},
}
PARSERS: dict[str, Callable[[bytes, ParseContext], Iterable[Item]]] = {
    "feodo-json": parse_feodo, "feodo-csv": parse_feodo, "urlhaus-recent": parse_urlhaus,
    "urlhaus-tld": parse_urlhaus,
}


def registry(orgs: int) -> tuple[RegistrySnapshot, list[str], list[str]]:
    """`orgs` organisations as in bench_scale, plus an address and a domain of each for the feeds."""
    rng = random.Random(7)
    constituents = [ConstituentRef(n + 1, f"{800000000 + n}", f"Benkvirksomhet {n}", "other") for n in range(orgs)]
    assets: list[AssetRef] = []
    hits: list[str] = []
    domains: list[str] = []
    for n in range(orgs):
        domain = f"k{n}.bench-kommune.no"
        for kind, value in (("network", f"10.{n // 250}.{n % 250}.0/24"), ("network", f"2001:db8:{n:x}::/48"),
                            ("domain", domain), ("email_domain", domain)):
            assets.append(AssetRef(len(assets) + 1, n + 1, kind, value))
        hits.append(f"10.{n // 250}.{n % 250}.{rng.randint(1, 254)}")
        domains.append(domain)
    return RegistrySnapshot("bench-peers", constituents, assets), hits, domains


def feodo_json(csv_bytes: bytes, seed: int) -> bytes:
    """The same Feodo rows in the shape of the JSON export (ipblocklist.json)."""
    rng = random.Random(seed)
    rows = csv.reader(line for line in io.StringIO(csv_bytes.decode()) if not line.startswith("#"))
    out = [{"ip_address": r[1], "port": int(r[2]), "status": r[3], "hostname": None,
            "as_number": rng.randint(1000, 64000), "as_name": "BENCH-AS", "country": rng.choice(["NL", "US", "DE"]),
            "first_seen": r[0], "last_online": r[4], "malware": r[5]} for r in rows if r[2].isdigit()]
    return json.dumps(out, indent=1).encode()


def write_files(directory: Path, rows: int, hits: list[str], domains: list[str]) -> list[tuple[str, str, Path]]:
    """(label, kind, path) of every file both sides read."""
    rng = random.Random(2024)
    feodo_csv = feodo(0, rows, rng, hits)
    generated = {"feodo-csv": feodo_csv, "feodo-json": feodo_json(feodo_csv, 1), "urlhaus-recent":
                 urlhaus(1, rows, rng, domains)}
    files = []
    for kind, data in generated.items():
        path = directory / f"{kind}-{rows}.txt"
        path.write_bytes(data)
        files.append((f"generated {kind}, {rows:,} rows", kind, path))
    for kind, name in (("feodo-csv", "feodotracker_ipblocklist.txt"),
                       ("urlhaus-recent", "urlhaus_csv_recent_2026-02-26.csv"), ("urlhaus-tld", "urlhaus_tld_ch.csv")):
        files.append((f"real sample {name}", kind, FIXTURES / name))
    return files


def run_intelmq(python: str, files: list[tuple[str, str, Path]], repeat: int, directory: Path) -> dict[str, Any]:
    """IntelMQ's side, in the peers virtualenv: its JSON answer."""
    jobs = [{"name": f"bench-{n}", "path": str(path), "repeat": repeat if "generated" in label else repeat * 50,
             **INTELMQ[kind]} for n, (label, kind, path) in enumerate(files)]
    spec = directory / "jobs.json"
    spec.write_text(json.dumps(jobs))
    done = subprocess.run([python, str(ROOT / "bench" / "peers_intelmq.py"), str(spec)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"IntelMQ side failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout))


def certmon_side(kind: str, data: bytes, engine: MatchEngine, repeat: int) -> dict[str, Any]:
    """certmon's parse, and parse + match, best of `repeat` CPU seconds each."""
    parse, ctx = PARSERS[kind], ParseContext(source_name="bench-peers")
    best_parse = best_all = float("inf")
    items: list[Item] = []
    matches = 0
    for _ in range(repeat):
        items = []
        gc.collect()
        start = time.process_time()
        items = list(parse(data, ctx))
        parsed = time.process_time()
        matches = len(engine.match_many(items))
        done = time.process_time()
        best_parse, best_all = min(best_parse, parsed - start), min(best_all, done - start)
    return {"items": len(items), "matches": matches, "parse_s": best_parse, "all_s": best_all}


def rate(count: int, seconds: float) -> str:
    """Items per second, human-sized."""
    per_second = count / seconds if seconds else float("inf")
    return f"{per_second / 1e6:.2f} M/s" if per_second >= 1e6 else f"{per_second / 1e3:.1f} k/s"


def one_run(args: argparse.Namespace, files: list[tuple[str, str, Path]], engine: MatchEngine,
            directory: Path) -> list[dict[str, Any]]:
    """Both sides on every file; one row per file."""
    peer = run_intelmq(args.peers_python, files, args.repeat, directory)
    rows = []
    for (label, kind, path), theirs in zip(files, peer["results"], strict=True):
        repeat = args.repeat if "generated" in label else args.repeat * 50
        ours = certmon_side(kind, path.read_bytes(), engine, repeat)
        rows.append({"label": label, "bytes": theirs["bytes"], "intelmq": peer["intelmq"],
                     "intelmq_events": theirs["events"], "intelmq_failed": theirs["failed"],
                     "intelmq_s": theirs["cpu_s"], **ours})
    return rows


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many (x50 on the small samples)")
    parser.add_argument("--runs", type=int, default=1, help="whole comparisons; the median is printed")
    args = parser.parse_args()
    snapshot, hits, domains = registry(args.orgs)
    start = time.process_time()
    engine = MatchEngine.build(snapshot)
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; registry "
          f"{args.orgs} organisations, {len(snapshot.assets)} assets (engine built in "
          f"{time.process_time() - start:.3f} s, not timed)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        files = write_files(Path(tmp), args.rows, hits, domains)
        runs = []
        for n in range(args.runs):
            runs.append(one_run(args, files, engine, Path(tmp)))
            print(f"  run {n + 1}/{args.runs} done, load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"IntelMQ {runs[0][0]['intelmq']}; CPU seconds, best of {args.repeat} (x50 on the samples), "
          f"median of {args.runs} run(s)")
    header = (f"{'file':<48} {'items':>8} {'IntelMQ parse':>14} {'certmon parse':>14} {'parse+match':>12} "
              f"{'ratio':>7} {'parse only':>10}")
    print(header)
    for n, first in enumerate(runs[0]):
        pick = [run[n] for run in runs]
        theirs = statistics.median(r["intelmq_s"] for r in pick)
        parse_s = statistics.median(r["parse_s"] for r in pick)
        all_s = statistics.median(r["all_s"] for r in pick)
        count = first["items"]
        note = "" if first["intelmq_events"] == count else f"  (IntelMQ: {first['intelmq_events']} events)"
        print(f"{first['label']:<48} {count:>8,} {rate(first['intelmq_events'], theirs):>14} "
              f"{rate(count, parse_s):>14} {rate(count, all_s):>12} "
              f"{theirs / all_s * count / max(first['intelmq_events'], 1):>6.1f}x "
              f"{theirs / parse_s * count / max(first['intelmq_events'], 1):>9.1f}x"
              f"{note}; {first['matches']} matches", flush=True)
    print("ratio: certmon parse + match vs IntelMQ parse, items/s over events/s (goal >= 10x); "
          "parse only: certmon parse alone")


if __name__ == "__main__":
    main()
