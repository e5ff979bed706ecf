"""IntelMQ's side of bench_peers.py: run by the peers virtualenv's Python (`make bench-peers`), never by certmon's.

    .venv-peers/bin/python bench/peers_intelmq.py JOBS.json

JOBS.json is a list of `{"name", "path", "module", "parameters", "repeat"}`. For each job the file's
bytes become one IntelMQ Report (`raw` base64-encoded, as a collector sends it; built before the clock
starts) and the parser bot named by `module` is constructed once in IntelMQ's library mode
(`BotLibSettings`: the in-memory `Pythonlistsimple` pipeline, no Redis, messages kept as objects, not
serialised). Timed, best of `repeat` in CPU seconds (`time.process_time`, garbage collector on, as in
a running bot): `bot.process_message(report)`, i.e. the bot's own `process()`: base64-decode the raw
report, `parse` (split into lines/rows/objects), `parse_line` per row (`new_event`, every
`event.add` with harmonization: validation and sanitising of IPs, ports, URLs, times, ...,
`raw` kept per event), `default_fields`, and the in-memory `send_message` (a list append).
Not timed: Redis, message serialisation, the collector. Prints one JSON object on stdout.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import sys
import time
from typing import Any

from intelmq import __version__
from intelmq.lib import message as libmessage
from intelmq.lib import utils
from intelmq.lib.bot import BotLibSettings


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One file through one parser bot, best of `repeat`."""
    bot_class = importlib.import_module(job["module"]).BOT
    settings = BotLibSettings | {"logging_level": "WARNING"} | job.get("parameters", {})
    bot = bot_class(job["name"], settings=settings)
    with open(job["path"], "rb") as handle:
        data = handle.read()
    report = libmessage.Report({"raw": utils.base64_encode(data.decode("utf-8")), "feed.name": job["name"],
                                "feed.accuracy": 100.0}, harmonization=bot.harmonization)
    best, events, failed = float("inf"), 0, 0
    sample: dict[str, Any] = {}
    for _ in range(job.get("repeat", 3)):
        gc.collect()
        start = time.process_time()
        state = bot.process_message(report)
        best = min(best, time.process_time() - start)
        out = state.get("output", [])
        events, failed = len(out), len(state.get("error", []))
        sample = out[0].to_dict(hierarchical=False) if out else {}
        sample.pop("raw", None)
        del state, out
    return {"name": job["name"], "bytes": len(data), "events": events, "failed": failed, "cpu_s": best,
            "sample_event": sample}


def main() -> int:
    """Run every job in the file named on the command line; JSON on stdout."""
    logging.disable(logging.INFO)  # the bots' per-500-messages info lines; warnings still show
    with open(sys.argv[1], encoding="utf-8") as handle:
        jobs = json.load(handle)
    results = [run_job(job) for job in jobs]
    json.dump({"intelmq": __version__, "python": sys.version.split()[0], "results": results}, sys.stdout,
              default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
