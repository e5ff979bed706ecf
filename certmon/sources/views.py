"""API: sources, their health, and 'run now'."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from certmon import plugins
from certmon.sources import service
from certmon.sources.schemas import SourceCreate, SourceRead, SourceUpdate
from certmon.web.deps import Admin, Analyst, PageDep, Reader, SessionDep

router = APIRouter(prefix="/api/v1/sources", tags=["kilder"])


class SourcePage(BaseModel):
    items: list[SourceRead]
    total: int


@router.get("", response_model=SourcePage)
def list_sources(session: SessionDep, user: Reader, page: PageDep) -> SourcePage:
    """Every source with its health: last success, last error, consecutive failures, items, duration."""
    rows, total = service.list_sources(session, limit=page.limit, offset=page.offset)
    return SourcePage(items=[SourceRead.model_validate(s) for s in rows], total=total)


@router.post("", response_model=SourceRead, status_code=201)
def create_source(body: SourceCreate, session: SessionDep, user: Admin) -> SourceRead:
    """Add a source (admin)."""
    service.validate_format(body.format, plugins.feeds().FORMATS)
    return SourceRead.model_validate(service.create_source(session, body, actor=user.email))


@router.get("/{name}", response_model=SourceRead)
def get_source(name: str, session: SessionDep, user: Reader) -> SourceRead:
    """One source."""
    return SourceRead.model_validate(service.get_source(session, name=name))


@router.patch("/{name}", response_model=SourceRead)
def update_source(name: str, body: SourceUpdate, session: SessionDep, user: Admin) -> SourceRead:
    """Change, enable or disable a source (admin)."""
    source = service.get_source(session, name=name)
    return SourceRead.model_validate(service.update_source(session, source, body, actor=user.email))


class RunQueued(BaseModel):
    source: str
    queued: bool
    task_id: str | None = None


@router.post("/{name}/run", response_model=RunQueued, status_code=202)
def run_source(name: str, session: SessionDep, user: Analyst) -> RunQueued:
    """Queue a collection of this source now."""
    source = service.get_source(session, name=name)
    task_id = plugins.require("workers").dispatch_collect(source.id)
    return RunQueued(source=name, queued=True, task_id=task_id)
