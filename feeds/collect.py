"""The collection pipeline: fetch → parse → store (upsert) → match → queue alerts, in one transaction.

A failure at any step records the reason on the source and its run and leaves every stored item as
it was. Called by the Celery task `feeds.collect_source` and by `certmon sources run/replay` and
`certmon ingest`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy.orm import Session, sessionmaker

from certmon.config import get_settings
from certmon.dbretry import DB_UNAVAILABLE, is_disconnect, retry_on_disconnect
from certmon.errors import CertmonError, FeedBlocked, FeedError, FeedUnavailable
from certmon.items.schemas import Item
from certmon.items.search import refresh_item_statistics
from certmon.items.service import upsert_items
from certmon.matching.service import match_items
from certmon.matching.state import record_ingest_match
from certmon.sources import service as sources
from certmon.sources.models import Source
from certmon.tlp import parse_tlp
from feeds.base import ParseContext
from feeds.collect_types import Document, Fetched
from feeds.formats import iter_bytes

log = logging.getLogger(__name__)
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
DEMO_ONLY = ("lokale filer (file://) kan bare brukes i demomodus: start med `make run`, sett CERTMON_DEMO=1, "
             "eller bruk datamappen demoen ble satt opp i")


@dataclass
class RunReport:
    """The outcome of one run, printed by the CLI and returned by tasks (JSON-serialisable)."""

    source: str
    outcome: str
    items_total: int = 0
    items_new: int = 0
    items_updated: int = 0
    matches_new: int = 0
    notification_ids: list[int] = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0
    run_id: int | None = None  # the run recorded on the source (none when refused or skipped)
    retry: bool = False  # failed for a passing reason (the database went away): worth running again


PUSH_ONLY = "kilden tar bare imot data som sendes inn (POST /api/v1/sources/{name}/items); den hentes aldri"


def read_local(url: str) -> bytes:
    """Read a `file://` URL: only in demo mode, and only the bundled samples or `<data dir>/feeds`."""
    settings = get_settings()
    if not settings.demo:
        raise FeedBlocked(DEMO_ONLY)
    path = Path(unquote(urlparse(url).path)).resolve()
    allowed = (SAMPLES_DIR, settings.data_path / "feeds")
    if not any(path.is_relative_to(root) for root in allowed):
        raise FeedBlocked(f"lokale filer kan bare leses fra {SAMPLES_DIR} eller {allowed[1]}")
    try:
        if path.is_relative_to(SAMPLES_DIR / "demo"):
            from certmon.demo.dates import read_sample

            return read_sample(path, settings.data_path)
        return path.read_bytes()
    except OSError as exc:
        raise FeedUnavailable(f"kunne ikke lese {path}: {exc.strerror}") from None


def fetch_documents(source: Source) -> Fetched:
    """Fetch a source's current documents (conditional GET where the server supports it)."""
    if source.url.startswith("file://"):
        return Fetched(documents=[Document(read_local(source.url), filename=Path(source.url).name)])
    from feeds.fetcher import fetch, set_politeness_interval
    from feeds.multidoc import fetch_multidoc, is_multidoc

    settings = get_settings()
    set_politeness_interval(settings.fetch_politeness_s)
    if is_multidoc(source):
        return fetch_multidoc(source)
    auth = sources.source_credentials(source)
    result = fetch(source.url, etag=source.etag, last_modified=source.last_modified,
                   allow_internal=source.internal, max_bytes=settings.fetch_max_bytes, auth=auth,
                   max_duration=settings.fetch_max_duration_s)
    if result.status == "not-modified":
        return Fetched(not_modified=True, etag=source.etag, last_modified=source.last_modified)
    name = Path(urlparse(result.final_url).path).name
    return Fetched(documents=[Document(result.content, name, result.final_url, result.content_type)],
                   etag=result.etag, last_modified=result.last_modified)


def parse_documents(
    source_format: str, documents: list[Document], ctx: ParseContext
) -> list[tuple[Document, Iterable[Item]]]:
    """Each document with its adapter's items. Streaming adapters (STIX) yield them as they are
    stored, so a large payload's items are never all in memory; their parse errors surface while
    storing, inside the transaction, which then rolls back like any other failure."""
    parsed = []
    for doc in documents:
        doc_ctx = ParseContext(default_tlp=ctx.default_tlp, source_name=ctx.source_name,
                               filename=doc.filename or ctx.filename, report_type=ctx.report_type)
        parsed.append((doc, iter_bytes(doc.content, source_format, doc_ctx)))
    return parsed


@dataclass
class Stored:
    """What one transaction stored."""

    payload_ids: list[int] = field(default_factory=list)
    items_total: int = 0
    items_new: int = 0
    items_updated: int = 0
    matches_new: int = 0
    notification_ids: list[int] = field(default_factory=list)


def store_and_match(
    session: Session, source: Source, parsed: list[tuple[Document, Iterable[Item]]]
) -> Stored:
    """Archive each document, upsert its items (pointing at it), match what changed and queue
    alerts; the caller commits."""
    out = Stored()
    changed: list[int] = []
    for doc, items in parsed:
        payload_id = sources.store_payload(session, source_id=source.id, content=doc.content,
                                           content_type=doc.content_type, url=doc.url).id
        out.payload_ids.append(payload_id)
        try:
            stored = upsert_items(session, source_id=source.id, items=items, payload_id=payload_id)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped by an error: let it restore what it paused
                close()
        out.items_total += stored.items
        out.items_new += len(stored.new_ids)
        out.items_updated += len(stored.updated_ids)
        changed += stored.changed_ids
    matched = match_items(session, item_ids=changed)
    record_ingest_match(session, version=matched.version, item_ids=changed)  # spares the tick a full re-match
    out.matches_new = len(matched.new_ids)
    if matched.new_ids:
        from certmon.notify.outbox import queue_alerts

        out.notification_ids = [n.id for n in queue_alerts(session, match_ids=matched.new_ids)]
    return out


def run_source(
    factory: sessionmaker[Session], source_id: int, *, documents: list[Document] | None = None,
    pushed_by: str | None = None,
) -> RunReport:
    """Collect one source now (or process the given documents as if it had served them: `certmon
    ingest`, replay, and pushes, whose run names the account in `pushed_by`)."""
    started = time.monotonic()
    with factory.begin() as session:
        source = sources.get_source(session, source_id=source_id)
        if source.url.startswith("file://") and not get_settings().demo and documents is None:
            # the caller's mode, not the source, is wrong: refuse without recording a failed run
            return RunReport(source=source.name, outcome="refused", error=DEMO_ONLY)
        if sources.is_push_only(source) and documents is None:
            return RunReport(source=source.name, outcome="refused", error=PUSH_ONLY.format(name=source.name))
        if not sources.claim_source(session, source):
            return RunReport(source=source.name, outcome="skipped",
                             error="kilden hentes allerede av en annen kjøring")
        run = sources.start_run(session, source, pushed_by=pushed_by)
        run_id, name = run.id, source.name
        ctx = ParseContext(default_tlp=parse_tlp(source.default_tlp), source_name=source.name,
                           report_type=(source.options or {}).get("report_type"))
        fmt = source.format
        session.expunge(source)
    report = RunReport(source=name, outcome="ok", run_id=run_id)
    try:
        fetched = Fetched(documents=documents) if documents is not None else fetch_documents(source)
        parsed = [] if fetched.not_modified else parse_documents(fmt, fetched.documents, ctx)
        with factory.begin() as session:
            src = sources.get_source(session, source_id=source_id)
            run = session.get_one(sources.SourceRun, run_id)
            out = Stored()
            if not fetched.not_modified:
                out = store_and_match(session, src, parsed)
                if documents is None:  # what was handed in says nothing of the source's own state
                    src.etag, src.last_modified = fetched.etag, fetched.last_modified
                if fetched.cursor:
                    src.cursor = fetched.cursor
            report.outcome = "not-modified" if fetched.not_modified else "ok"
            n_items = out.items_total
            report.items_total, report.items_new, report.items_updated = n_items, out.items_new, out.items_updated
            report.matches_new, report.notification_ids = out.matches_new, out.notification_ids
            sources.finish_run(session, src, run, outcome=report.outcome, items_total=n_items,
                               items_new=out.items_new, items_updated=out.items_updated,
                               matches_new=out.matches_new, payload_ids=out.payload_ids)
    except (CertmonError, OSError) as exc:
        report.outcome = exc.outcome if isinstance(exc, FeedError) else "error"
        report.error = str(exc) if isinstance(exc, CertmonError) else f"{type(exc).__name__}: {exc}"
        _record_failure(factory, source_id, run_id, report)
    except Exception as exc:
        if is_disconnect(exc):  # a restart or failover: the store transaction rolled back whole
            log.warning("collecting %s: %s; nothing of this run was stored", name, DB_UNAVAILABLE)
            report.outcome, report.retry = "error", True
            report.error = f"{DB_UNAVAILABLE} under kjøringen ({type(exc).__name__}); ingenting ble lagret"
        else:
            log.exception("collecting %s failed unexpectedly", name)
            report.outcome, report.error = "error", f"intern feil: {type(exc).__name__}: {exc}"
        _record_failure(factory, source_id, run_id, report)
    if report.outcome == "ok":
        refresh_item_statistics(factory.kw.get("bind"), report.items_new)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    return report


def _record_failure(factory: sessionmaker[Session], source_id: int, run_id: int, report: RunReport) -> None:
    """Close the run as failed with its reason (and release the source), waiting out a database restart."""
    with factory() as session:
        def write() -> None:
            src = sources.get_source(session, source_id=source_id)
            run = session.get_one(sources.SourceRun, run_id)
            sources.finish_run(session, src, run, outcome=report.outcome, error=report.error)
            session.commit()

        retry_on_disconnect(session, write, what=f"recording the failed run {run_id}")
