"""Idle housekeeping ticks are DEBUG; ticks that did work and everything else stay INFO."""

from __future__ import annotations

import logging

import pytest

from workers.quiet import IdleTicks, install


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


@pytest.mark.parametrize(("name", "msg", "args", "kept"), [
    ("celery.beat", "Scheduler: Sending due task %s (%s)", ("schedule-due-sources", "feeds.schedule_due"), False),
    ("celery.worker.strategy", "Task %s[%s] received", ("notify.deliver_due", "abc"), False),
    ("celery.app.trace", "Task %s[%s] succeeded in %ss: %r", ("feeds.schedule_due", "abc", 0.01, []), False),
    ("celery.app.trace", "Task %s[%s] succeeded in %ss: %r", ("notify.deliver_due", "abc", 0.02,
                                                              {"sent": 0, "failed": 0}), False),
    ("celery.app.trace", "Task %s[%s] succeeded in %ss: %r", ("feeds.schedule_due", "abc", 0.01, [3, 4]), True),
    ("celery.app.trace", "Task %s[%s] succeeded in %ss: %r", ("notify.deliver_due", "abc", 0.02,
                                                              {"sent": 4, "failed": 0}), True),
    ("celery.app.trace", "Task %s[%s] succeeded in %ss: %r", ("feeds.collect_source", "abc", 1.2, {}), True),
    ("celery.worker.strategy", "Task %s[%s] received", ("feeds.collect_source", "abc"), True),
])
def test_idle_ticks_are_debug(name: str, msg: str, args: tuple[object, ...], kept: bool) -> None:
    record = _record(name, msg, *args)
    logging.getLogger(name).setLevel(logging.INFO)
    assert IdleTicks().filter(record) is kept
    assert (record.levelno == logging.INFO) is kept


def test_debug_level_still_shows_them(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # idempotent
    trace = logging.getLogger("celery.app.trace")
    assert sum(isinstance(f, IdleTicks) for f in trace.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="celery.app.trace"):
        trace.info("Task %s[%s] succeeded in %ss: %r", "feeds.schedule_due", "x", 0.01, [])
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
