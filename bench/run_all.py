"""Run every benchmark in bench/ in turn (one command: `make bench`, or `make bench-quick`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "bench_stix.py": {"quick": ["--indicators", "20000"], "full": ["--stix2-full"]},
    "bench_matching.py": {"quick": ["--quick"], "full": []},
    "bench_digest.py": {"quick": [], "full": []},
    "bench_latency.py": {"quick": ["--quick"], "full": []},
}


def main() -> int:
    """Run each benchmark as its own process so one's memory does not skew the next."""
    mode = "quick" if "--quick" in sys.argv[1:] else "full"
    failed = []
    for name, args in BENCHES.items():
        print(f"\n=== {name} ({mode}) ===", flush=True)
        done = subprocess.run([sys.executable, str(HERE / name), *args[mode]], cwd=HERE.parent)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
