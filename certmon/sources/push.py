"""Push ingest: a sensor's or partner's payload, in the source's own format, through the same parse,
dedup, match and alert path as a fetch (`feeds.collect.run_source` with the body as its document),
recorded as a run of the source that names the account."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from certmon import plugins
from certmon.errors import CertmonError, Conflict, TooLarge, ValidationFailed

BUSY_WAIT_S = 10.0  # how long a push waits for another run of the same source to finish


def push_payload(factory: sessionmaker[Session], *, source_id: int, body: bytes, filename: str,
                 content_type: str | None, pushed_by: str) -> Any:
    """Run `body` through the source's pipeline; the RunReport of an `ok` run, else an error saying why."""
    feeds = plugins.feeds()
    document = feeds.Document(body, filename, None, content_type)
    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        report = feeds.run_source(factory, source_id, documents=[document], pushed_by=pushed_by)
        if report.outcome != "skipped" or time.monotonic() >= deadline:
            break
        time.sleep(0.2)  # a fetch or another push holds the source; ours follows it
    if report.outcome == "ok":
        return report
    if report.outcome == "skipped":
        raise Conflict(f"kilden {report.source!r} behandles av en annen kjøring akkurat nå; prøv igjen om litt")
    where = f" (kjøring {report.run_id})" if report.run_id else ""
    if report.outcome == "parse-error":
        raise ValidationFailed(f"innholdet kunne ikke leses i kildens format: {report.error}{where}")
    if report.outcome == "too-large":
        raise TooLarge(f"{report.error}{where}")
    raise CertmonError(f"innsendingen ble ikke lagret: {report.error}{where}", status=500)
