"""Source services: catalogue sync, CRUD, payload archive, run bookkeeping and health."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.config import get_settings
from certmon.db import utcnow
from certmon.dbutil import insert_ignoring_conflicts
from certmon.errors import Conflict, FeedBlocked, NotFound, ValidationFailed
from certmon.logsafety import redact_secrets
from certmon.sources.models import Payload, Source, SourceRun
from certmon.sources.schemas import SourceCreate, SourceUpdate

ERROR_TEXT_MAX = 2000


def list_sources(session: Session, *, limit: int = 100, offset: int = 0) -> tuple[list[Source], int]:
    """All sources, by name."""
    total = session.scalar(select(func.count(Source.id))) or 0
    rows = session.scalars(select(Source).order_by(Source.name).limit(limit).offset(offset))
    return list(rows), total


def get_source(session: Session, *, name: str | None = None, source_id: int | None = None) -> Source:
    """A source by name or id, or NotFound."""
    source = (session.get(Source, source_id) if source_id is not None
              else session.scalar(select(Source).where(Source.name == name)))
    if source is None:
        raise NotFound(f"fant ingen kilde {name or source_id!r}")
    return source


def create_source(session: Session, data: SourceCreate, *, actor: str = "system") -> Source:
    """Add a source; the name must be unused."""
    if session.scalar(select(Source.id).where(Source.name == data.name)) is not None:
        raise Conflict(f"kilden {data.name!r} finnes allerede")
    check_url_scheme(data.url, demo=get_settings().demo)
    source = Source(**data.model_dump())
    session.add(source)
    session.flush()
    record(session, actor=actor, action="source.create", entity_type="source", entity_id=source.id,
           name=source.name, url=redact_secrets(source.url), format=source.format)
    return source


def update_source(session: Session, source: Source, data: SourceUpdate, *, actor: str = "system") -> Source:
    """Change a source's settings (enable/disable, interval, URL, TLP …), audited."""
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes:
        check_url_scheme(changes["url"], demo=get_settings().demo)
    for field, value in changes.items():
        setattr(source, field, value)
    if "url" in changes:
        source.etag = source.last_modified = None
    record(session, actor=actor, action="source.update", entity_type="source", entity_id=source.id,
           **{k: redact_secrets(v) if k == "url" and isinstance(v, str) else v
              for k, v in changes.items() if k != "auth_secret_env"})
    return source


def sync_catalogue(session: Session, entries: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Create catalogue sources that are missing and refresh their descriptive fields; keep local edits
    to enabled/interval. Returns (created, updated)."""
    created = updated = 0
    for entry in entries:
        data = SourceCreate.model_validate(entry)
        source = session.scalar(select(Source).where(Source.name == data.name))
        if source is None:
            session.add(Source(**data.model_dump()))
            created += 1
            continue
        for field in ("title", "publisher", "format", "url", "default_tlp", "reliability", "internal",
                      "options"):
            new = getattr(data, field)
            if getattr(source, field) != new:
                setattr(source, field, new)
                updated += 1
    session.flush()
    return created, updated


def store_payload(
    session: Session, *, source_id: int | None, content: bytes, content_type: str | None = None,
    url: str | None = None,
) -> Payload:
    """Keep a payload once by SHA-256 (compressed); return the existing row when seen before."""
    digest = hashlib.sha256(content).hexdigest()
    existing = session.scalar(select(Payload).where(Payload.sha256 == digest))
    if existing is not None:
        return existing
    session.execute(insert_ignoring_conflicts(session, Payload), [{
        "sha256": digest, "source_id": source_id, "size": len(content), "content_type": content_type,
        "url": redact_secrets(url) if url else url,  # where it came from, without the feed's credentials
        "content": zlib.compress(content, 6), "fetched_at": utcnow()}])
    return session.scalars(select(Payload).where(Payload.sha256 == digest)).one()


def payload_bytes(payload: Payload) -> bytes:
    """The original bytes of a stored payload."""
    return zlib.decompress(payload.content)


def latest_payloads(session: Session, source: Source) -> list[Payload]:
    """Every document of the most recent run that fetched something (for replay), in order."""
    run = session.scalar(select(SourceRun).where(SourceRun.source_id == source.id,
                                                 SourceRun.payload_id.is_not(None))
                         .order_by(SourceRun.id.desc()).limit(1))
    if run is None:
        raise NotFound(f"kilden {source.name!r} har ingen lagret nyttelast å spille av ennå")
    ids = run.payload_ids or ([run.payload_id] if run.payload_id else [])
    by_id = {p.id: p for p in session.scalars(select(Payload).where(Payload.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


CLAIM_STALE_AFTER = timedelta(minutes=30)
SECRET_ENV_PREFIX = "CERTMON_FEED_SECRET_"  # noqa: S105 - a variable-name prefix, not a secret


def claim_source(session: Session, source: Source, now: datetime | None = None) -> bool:
    """Hold a source for one run (no two runs of one source at once); a claim older than 30
    minutes is taken to be from a dead worker. The caller commits; False if another run holds it."""
    now = now or utcnow()
    result = session.execute(
        update(Source).where(Source.id == source.id,
                             or_(Source.running_since.is_(None), Source.running_since < now - CLAIM_STALE_AFTER))
        .values(running_since=now).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def source_credentials(source: Source) -> tuple[str, str] | None:
    """(user, password) for a source, the password read from its `CERTMON_FEED_SECRET_*` variable.
    Other variable names are refused so a source can never send the server's own secrets away."""
    if not source.auth_user:
        return None
    env = source.auth_secret_env or ""
    if not env.startswith(SECRET_ENV_PREFIX):
        raise FeedBlocked(f"passordvariabelen må begynne med {SECRET_ENV_PREFIX} (kilden {source.name})")
    return source.auth_user, os.environ.get(env, "")


PUSH_SCHEME = "push"


def is_push_only(source: Source) -> bool:
    """A source with the URL `push:` (or `push://<label>`) is never fetched: it only takes pushes."""
    return source.url.split(":", 1)[0].lower() == PUSH_SCHEME


def check_url_scheme(url: str, *, demo: bool) -> None:
    """Sources are fetched over http(s); `push:` takes pushes only; `file://` is for the bundled demo
    samples only."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https", PUSH_SCHEME) or (scheme == "file" and demo):
        return
    raise ValidationFailed(f"kilde-URL må være http://, https:// eller push: (fikk {scheme}://)")


def start_run(session: Session, source: Source, now: datetime | None = None, *,
              pushed_by: str | None = None) -> SourceRun:
    """Open a run record (`pushed_by`: the account whose push this is)."""
    run = SourceRun(source_id=source.id, started_at=now or utcnow(), pushed_by=pushed_by)
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session, source: Source, run: SourceRun, *, outcome: str, error: str | None = None,
    items_total: int = 0, items_new: int = 0, items_updated: int = 0, matches_new: int = 0,
    payload_ids: list[int] | None = None,
) -> None:
    """Close a run, release the source and update its health (a failure never touches its items)."""
    now = utcnow()
    source.running_since = None
    run.finished_at = now
    run.outcome = outcome
    run.error = redact_secrets(error)[:ERROR_TEXT_MAX] if error else None
    run.items_total, run.items_new, run.items_updated = items_total, items_new, items_updated
    run.matches_new = matches_new
    run.payload_ids = payload_ids or []
    run.payload_id = run.payload_ids[-1] if run.payload_ids else None
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    source.last_outcome, source.last_duration_ms = outcome, run.duration_ms
    if run.pushed_by is None:  # the schedule counts from a run's start, so a poll period is its interval
        source.last_run_at = run.started_at  # (a push is not a poll: it does not postpone the next fetch)
    if outcome in ("ok", "not-modified"):
        source.last_success_at = now
        source.consecutive_failures = 0
        source.last_items = items_total
    else:
        source.last_error = run.error
        source.last_error_at = now
        source.consecutive_failures += 1


def validate_format(fmt: str, known: Iterable[str]) -> None:
    """Reject a format no adapter handles."""
    names = sorted(known)
    if fmt not in names:
        raise ValidationFailed(f"ukjent format {fmt!r}; støttede formater: {', '.join(names)}")


