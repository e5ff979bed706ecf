"""feedparser's whole test corpus through `certmon parse --format rss`: no traceback, no hang.

The corpus (2,248 files: well-formed and ill-formed feeds, entities, encodings, HTTP and compression
cases) is vendored from feedparser's sdist under tests/fixtures/feedparser-corpus (provenance in
tests/fixtures/PROVENANCE.md). One subprocess runs the installed `certmon` console script's entry
point over every file (tests/feeds/cli_batch.py), each under a per-file alarm; a separate process
per file for a few of them shows that the batch sees what a user's shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

CORPUS = Path(__file__).parents[1] / "fixtures" / "feedparser-corpus"
DRIVER = Path(__file__).parent / "cli_batch.py"
PER_FILE_SECONDS = 30
CORPUS_FILES = 2248


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update(CERTMON_DATA_DIR=str(tmp_path / "data"), CERTMON_SECRET_KEY="test-secret")
    return env


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_corpus_file_ends_in_items_or_one_clean_error(tmp_path: Path) -> None:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")
    assert len(files) == CORPUS_FILES
    out = tmp_path / "results.jsonl"
    try:
        proc = subprocess.run([sys.executable, str(DRIVER), "rss", str(CORPUS), str(out), str(PER_FILE_SECONDS)],
                              env=_env(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=1500)
    except subprocess.TimeoutExpired:
        done = len(_records(out))
        pytest.fail(f"hang: {files[done]} did not finish (stuck where the per-file alarm cannot reach)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(out)
    assert [r["file"] for r in records] == files

    tracebacks = [r for r in records if r["escaped"] or "Traceback" in r["stderr"]]
    hangs = [r for r in records if r["status"] == "hang"]
    statuses = Counter(r["status"] for r in records)
    with_items = sum(1 for r in records if r["items"])
    fallbacks = sum(1 for r in records if r["status"] == 0 and r["stderr"].strip())
    print(f"\nfeedparser corpus: {len(records)} files; exit 0: {statuses[0]} ({with_items} with items, "
          f"{fallbacks} after the encoding fallback), exit 2: {statuses[2]}; tracebacks: {len(tracebacks)}; "
          f"hangs: {len(hangs)}; slowest {max(r['seconds'] for r in records):.2f} s")
    assert not tracebacks, [(r["file"], (r["escaped"] or r["stderr"])[-500:]) for r in tracebacks[:5]]
    assert not hangs, [r["file"] for r in hangs]
    assert set(statuses) <= {0, 2}, statuses
    for r in records:
        lines = r["stderr"].strip().splitlines()
        name = Path(r["file"]).name
        if r["status"] == 2:  # refused: one line naming the file and the problem
            assert len(lines) == 1 and name in lines[0], r
        else:  # parsed: silent, or one warning naming the file and the fallback taken
            assert len(lines) <= 1 and all(name in line for line in lines), r
    assert with_items >= 900  # the run did parse the corpus (952 files hold entries), not refuse it


@pytest.mark.slow
@pytest.mark.parametrize("name", ["encoding/bozo_bogus_encoding.xml", "encoding/ucs-2.xml",
                                  "compression/gzip.gz", "wellformed/rss/item_title.xml"])
def test_a_separate_process_agrees_with_the_batch(name: str, tmp_path: Path) -> None:
    out = tmp_path / "one.jsonl"
    one = tmp_path / "one"
    one.mkdir()
    (one / Path(name).name).write_bytes((CORPUS / name).read_bytes())
    subprocess.run([sys.executable, str(DRIVER), "rss", str(one), str(out), str(PER_FILE_SECONDS)],
                   env=_env(tmp_path), check=True, timeout=300)
    (batch,) = _records(out)
    script = Path(sys.executable).with_name("certmon")
    real = subprocess.run([str(script), "parse", "--format", "rss", str(CORPUS / name)], env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    assert real.returncode == batch["status"]
    assert real.stdout.count(b"\n") == batch["items"]
    assert real.stderr.decode().replace(str(CORPUS / name), name) == batch["stderr"].replace(
        str(one / Path(name).name), name)
    assert b"Traceback" not in real.stderr
