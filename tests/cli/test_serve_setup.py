"""`make run`'s own path: `certmon serve` in demo mode sets up, collects with a progress bar, reports what it
found and listens. (The progress bar once failed on the lazily made console: a traceback at start-up.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.progress import Progress

from certmon.cli.common import err, out
from tests.conftest import free_port


def test_the_lazy_consoles_work_as_rich_context_managers() -> None:
    for console in (out, err):
        with Progress(console=console, transient=True) as progress:
            progress.add_task("x", total=1)
        with console:
            pass


def test_certmon_serve_in_demo_mode_sets_up_collects_and_listens(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTMON_")}
    env.update({"CERTMON_DATA_DIR": str(tmp_path / "data"), "CERTMON_DEMO": "1", "CERTMON_PORT": str(port),
                "CERTMON_LOG_LEVEL": "WARNING"})
    log = tmp_path / "serve.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "certmon"), "serve", "--no-worker"], env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "certmon kjører på" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "certmon kjører på" in text, text[-3000:]
        assert "nye treff" in text and "Traceback" not in text and "intern feil" not in text, text[-3000:]
        assert len(list((tmp_path / "data" / "mail" / "new").iterdir())) > 0  # the demo's alerts, as e-mail
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
