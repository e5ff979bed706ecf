"""The Celery app: Redis in production, an embedded filesystem broker by default.

Import path for the CLI: `celery -A workers.celery_app:app worker`.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery
from kombu import Queue

from certmon.config import Settings, get_settings

DEFAULT_QUEUE = "celery"
DELIVERY_QUEUE = "delivery"
QUEUES = (DEFAULT_QUEUE, DELIVERY_QUEUE)


def broker_settings(settings: Settings) -> dict[str, object]:
    """Celery configuration for the configured (or embedded) broker."""
    conf: dict[str, object] = {
        "task_serializer": "json", "result_serializer": "json", "accept_content": ["json"],
        "task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1,
        "task_ignore_result": True, "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        # a broker outage of any length is waited out: Celery's default gives up (and the worker exits)
        # after 100 reconnection attempts. A task running when the connection drops finishes its work
        # (delivery needs only the database and the relay); its ack is lost and the message restored, and
        # running it again is harmless (the outbox claim) — cancelling it instead could cut an e-mail
        # between the relay's 250 and our commit (docs/operations.md, Faults).
        "broker_connection_max_retries": None,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                      "interval_max": 1}, "timezone": "Europe/Oslo", "enable_utc": True,
        "worker_hijack_root_logger": False,
        # alerts have their own queue, so a big ingest never sits in front of them; a worker started
        # without -Q consumes both, a dedicated one `-Q delivery` (docs/operations.md)
        "task_queues": (Queue(DEFAULT_QUEUE), Queue(DELIVERY_QUEUE)), "task_default_queue": DEFAULT_QUEUE,
        "task_routes": {"notify.*": {"queue": DELIVERY_QUEUE}},
        "beat_schedule": {
            "schedule-due-sources": {"task": "feeds.schedule_due", "schedule": float(settings.scheduler_tick_s)},
            "deliver-due-notifications": {"task": "notify.deliver_due", "schedule": float(settings.delivery_tick_s)},
            "remind-unanswered": {"task": "notify.send_reminders", "schedule": 3600.0},
            "rematch-on-registry-change": {"task": "matching.rematch_if_changed", "schedule": 60.0},
        },
    }
    if settings.broker_url:
        conf["broker_url"] = settings.broker_url
        if settings.broker_url.startswith("redis"):
            conf["broker_transport_options"] = {"visibility_timeout": 3600}
    else:
        queue = embedded_queue_dir(settings)
        conf["broker_url"] = "filesystem://localhost/"  # a host named: kombu warns at every connect without one
        conf["broker_transport_options"] = {
            "data_folder_in": str(queue / "data"), "data_folder_out": str(queue / "data"),
            "control_folder": str(queue / "control"), "processed_folder": str(queue / "processed"),
            "store_processed": False, "polling_interval": 0.5,
        }
    if settings.result_backend:
        conf["result_backend"] = settings.result_backend
        conf["task_ignore_result"] = False
    return conf


def embedded_queue_dir(settings: Settings) -> Path:
    """The folders the embedded broker uses (created here; the transport will not create them)."""
    queue = settings.data_path / "queue"
    for sub in ("data", "control", "processed"):
        (queue / sub).mkdir(parents=True, exist_ok=True)
    return queue


def make_celery(settings: Settings | None = None) -> Celery:
    """A Celery app configured from certmon settings, with the tasks registered."""
    celery = Celery("certmon")
    celery.conf.update(broker_settings(settings or get_settings()))
    celery.conf.include = ["workers.tasks"]
    return celery


app = make_celery()


def _log_filters() -> None:
    """Idle ticks at DEBUG; tokens and URL credentials never in the worker's log (httpx logs every URL)."""
    from certmon import logsafety
    from workers.quiet import install

    install()
    logsafety.install()


_log_filters()
