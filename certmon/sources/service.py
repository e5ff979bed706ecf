"""Source services: catalogue sync, CRUD, payload archive, run bookkeeping and health."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.db import utcnow
from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.sources.models import Payload, Source, SourceRun
from certmon.sources.schemas import SourceCreate, SourceUpdate
from certmon.tlp import parse_tlp

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
    source = Source(**data.model_dump())
    session.add(source)
    session.flush()
    record(session, actor=actor, action="source.create", entity_type="source", entity_id=source.id,
           name=source.name, url=source.url, format=source.format)
    return source


def update_source(session: Session, source: Source, data: SourceUpdate, *, actor: str = "system") -> Source:
    """Change a source's settings (enable/disable, interval, URL, TLP …), audited."""
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(source, field, value)
    if "url" in changes:
        source.etag = source.last_modified = None
    record(session, actor=actor, action="source.update", entity_type="source", entity_id=source.id,
           **{k: v for k, v in changes.items() if k != "auth_secret_env"})
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
    payload = Payload(sha256=digest, source_id=source_id, size=len(content), content_type=content_type,
                      url=url, content=zlib.compress(content, 6))
    session.add(payload)
    session.flush()
    return payload


def payload_bytes(payload: Payload) -> bytes:
    """The original bytes of a stored payload."""
    return zlib.decompress(payload.content)


def latest_payload(session: Session, source: Source) -> Payload:
    """The most recently fetched payload of a source (for replay)."""
    payload = session.scalar(select(Payload).join(SourceRun, SourceRun.payload_id == Payload.id)
                             .where(SourceRun.source_id == source.id)
                             .order_by(SourceRun.id.desc()).limit(1))
    if payload is None:
        raise NotFound(f"kilden {source.name!r} har ingen lagret nyttelast å spille av ennå")
    return payload


def start_run(session: Session, source: Source, now: datetime | None = None) -> SourceRun:
    """Open a run record."""
    run = SourceRun(source_id=source.id, started_at=now or utcnow())
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session, source: Source, run: SourceRun, *, outcome: str, error: str | None = None,
    items_total: int = 0, items_new: int = 0, items_updated: int = 0, matches_new: int = 0,
    payload_id: int | None = None,
) -> None:
    """Close a run and update the source's health (a failure never touches its items)."""
    now = utcnow()
    run.finished_at = now
    run.outcome = outcome
    run.error = error[:ERROR_TEXT_MAX] if error else None
    run.items_total, run.items_new, run.items_updated = items_total, items_new, items_updated
    run.matches_new, run.payload_id = matches_new, payload_id
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    source.last_run_at, source.last_outcome, source.last_duration_ms = now, outcome, run.duration_ms
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


def check_tlp(value: str) -> str:
    """Normalise a TLP label for a source default."""
    try:
        return parse_tlp(value).value_str
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
