"""Idle housekeeping ticks log at DEBUG, so INFO holds what happened.

Celery logs every periodic task three times at INFO ("Scheduler: Sending due task …", "Task …
received", "Task … succeeded in 0.01s: []"): with the scheduler's 30-second tick that was 3–6 lines
every 30 s and nothing else to read. This filter turns those lines into DEBUG records for the
housekeeping tasks whenever the tick did nothing (an empty or all-zero result); a tick that did work
keeps its INFO line, and the tasks themselves log what they collected or sent.
"""

from __future__ import annotations

import logging
import re

HOUSEKEEPING = ("feeds.schedule_due", "notify.deliver_due", "notify.send_reminders", "matching.rematch_if_changed")
_IDLE_RESULT = re.compile(r":\s*(None|\[\]|\{\}|0|\(\)|\{(?:'[^']*':\s*0,?\s*)+\})\s*$")
LOGGERS = ("celery.beat", "celery.app.trace", "celery.worker.strategy")


class IdleTicks(logging.Filter):
    """Demote the housekeeping tasks' idle INFO lines to DEBUG (dropped unless DEBUG is enabled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a record we cannot format is not ours to judge
            return True
        if not any(name in text for name in HOUSEKEEPING):
            return True
        if "succeeded" in text and not _IDLE_RESULT.search(text):
            return True  # the tick did work: keep it at INFO
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def install() -> None:
    """Attach the filter to Celery's loggers (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, IdleTicks) for f in logger.filters):
            logger.addFilter(IdleTicks())
