"""What the core may ask of the workers part (found through the `certmon.plugins` entry point)."""

from __future__ import annotations

import logging
import sys

from certmon.config import Settings
from certmon.errors import ServiceUnavailable


def _send(name: str, args: list[object], queue: str | None = None) -> str:
    from workers.celery_app import app

    try:
        return str(app.send_task(name, args=args, queue=queue).id)
    except Exception as exc:  # kombu raises many kinds; the caller needs one clear answer
        raise ServiceUnavailable(
            f"meldingskøen (broker) svarer ikke, så oppgaven ble ikke lagt i kø: {type(exc).__name__}"
        ) from None


def dispatch_collect(source_id: int) -> str:
    """Queue a collection of one source; returns the task id."""
    return _send("feeds.collect_source", [source_id])


def dispatch_send(notification_ids: list[int]) -> str:
    """Queue delivery of alerts."""
    return dispatch_delivery(notification_ids)


def dispatch_delivery(notification_ids: list[int]) -> str:
    """Queue a delivery run on the delivery queue (called once a transaction that queued alerts commits)."""
    from workers.celery_app import DELIVERY_QUEUE

    return _send("notify.send", [notification_ids], queue=DELIVERY_QUEUE)


def dispatch_rematch() -> str:
    """Queue a re-match of the history now (after an approved registry change)."""
    return _send("matching.rematch_if_changed", [])


def broker_problem() -> str | None:
    """None if the broker answers, else a one-line reason."""
    from workers.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logging.getLogger(__name__).warning("readiness: broker: %s", str(exc).splitlines()[0][:200])
        return f"meldingskøen (broker) svarer ikke ({type(exc).__name__})"
    return None


def worker_command(settings: Settings, *, with_beat: bool = True) -> list[str]:
    """The command line of an embedded worker (with the scheduler) for `certmon serve`."""
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "worker", "--pool=threads",
            "--concurrency=2", "-l", settings.log_level.lower(), "-n", "certmon@%h"]
    if with_beat:
        argv += ["-B", "-s", str(settings.data_path / "beat-schedule")]
    return argv
