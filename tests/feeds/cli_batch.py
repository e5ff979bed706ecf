"""Run `certmon parse --format FORMAT FILE` over many files in one process, as the console script runs.

Usage: python tests/feeds/cli_batch.py FORMAT ROOT OUT.jsonl SECONDS_PER_FILE

For every file under ROOT (sorted, LICENSE left out) the `certmon` console-script entry point is
called with `sys.argv = ["certmon", "parse", "--format", FORMAT, FILE]`, its file descriptors 1 and 2
pointed at temporary files (so everything it prints, Python or C, is caught), under a per-file alarm.
One JSON line per file goes to OUT as soon as the file is done: its path, exit status (an int,
"hang" when the alarm fired), items printed, stderr, and `escaped`, the traceback of any exception
that left the entry point (what a separate process would have printed as a traceback). A file that
hangs in C code where the alarm cannot interrupt it is the first file missing from OUT.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from types import FrameType


class Hang(BaseException):
    """The per-file alarm fired (a BaseException, so no `except Exception` in the code under test hides it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def console_script() -> Callable[[], object]:
    """The function the installed `certmon` command runs."""
    (entry,) = [e for e in entry_points(group="console_scripts") if e.name == "certmon"]
    return entry.load()  # type: ignore[no-any-return]


def run_one(run: Callable[[], object], fmt: str, path: str, seconds: float) -> dict[str, object]:
    """Run `certmon parse --format fmt path` in this process; what it printed and how it ended."""
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["certmon", "parse", "--format", fmt, path]
        status: int | str = 0
        escaped = None
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            run()
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Hang:
            status = "hang"
        except BaseException:
            escaped, status = traceback.format_exc(), 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return {"status": status, "seconds": round(elapsed, 3), "items": stdout.count(b"\n"),
            "stderr": stderr.decode("utf-8", "replace"), "escaped": escaped}


def main() -> None:
    """Parse every file under ROOT and write one JSON line per file."""
    fmt, root, out_path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    run = console_script()
    signal.signal(signal.SIGALRM, _alarm)
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names if f != "LICENSE")
    with open(out_path, "w", encoding="utf-8") as out:
        for path in files:
            record = {"file": os.path.relpath(path, root), **run_one(run, fmt, path, seconds)}
            out.write(json.dumps(record) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
