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


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per Celery queue: LLEN on Redis (with kombu's priority lists), the message files of
    the embedded broker; None when the broker does not answer."""
    from certmon.config import get_settings
    from workers.celery_app import QUEUES, embedded_queue_dir

    settings = get_settings()
    url = settings.broker_url
    if not url:
        counts = dict.fromkeys(QUEUES, 0)
        for path in (embedded_queue_dir(settings) / "data").glob("*.msg"):
            queue = path.name.rsplit(".", 2)[-2] if path.name.count(".") >= 2 else ""
            if queue in counts:
                counts[queue] += 1
        return counts
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    import redis

    sep = "\x06\x16"  # kombu's Redis transport keeps priorities 3, 6 and 9 in lists of their own
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        with client.pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                for key in (queue, *(f"{queue}{sep}{p}" for p in (3, 6, 9))):
                    pipe.llen(key)
            lengths = pipe.execute()
        client.close()
    except redis.RedisError as exc:
        logging.getLogger(__name__).warning("metrics: broker: %s", str(exc).splitlines()[0][:200])
        return None
    return {queue: sum(lengths[n * 4:(n + 1) * 4]) for n, queue in enumerate(QUEUES)}


def worker_command(settings: Settings, *, with_beat: bool = True) -> list[str]:
    """The command line of an embedded worker (with the scheduler) for `certmon serve`."""
    # --quiet: no banner; `certmon serve` says itself that the worker started, and the log follows
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", "--quiet", "worker", "--pool=threads",
            "--concurrency=2", "-l", settings.log_level.lower(), "-n", "certmon@%h"]
    if with_beat:
        argv += ["-B", "-s", str(settings.data_path / "beat-schedule")]
    return argv
