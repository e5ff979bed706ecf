"""API: push ingest (`POST /api/v1/sources/{name}/items`) and who may push (feeder accounts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from certmon.auth.models import User
from certmon.config import get_settings
from certmon.db import session_factory
from certmon.errors import CertmonError, Conflict, TooLarge
from certmon.sources import feeders, service
from certmon.sources.models import Source
from certmon.sources.push import push_payload
from certmon.web.deps import Admin, CurrentUser, SessionDep, errors

router = APIRouter(prefix="/api/v1/sources", tags=["kilder"])


class PushReceived(BaseModel):
    """What a push stored: items read from the body, items new to certmon, the run it was recorded as."""

    received: int
    new: int
    run: int


class FeederRead(BaseModel):
    """A feeder account allowed to push to the source."""

    email: str
    name: str
    active: bool


PUSH_BODY = {"requestBody": {"required": True, "description": (
    "The payload exactly as the source's format has it (EVE JSON lines, a STIX bundle, a CSV, …), at most "
    "CERTMON_PUSH_MAX_BYTES. The Content-Type is not used to decide the format: the source's format is."),
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {}}, "text/plain": {"schema": {"type": "string"}}}}}


def feed_target(name: str, session: SessionDep, user: CurrentUser) -> tuple[int, str]:
    """The source to push to and the pusher's e-mail, checked before a byte of the body is read."""
    source = service.get_source(session, name=name)
    feeders.check_may_feed(session, user=user, source=source)
    if not source.enabled:
        raise Conflict(f"kilden {source.name!r} er slått av og tar ikke imot data; en administrator kan slå den på")
    return source.id, user.email


async def push_body(request: Request) -> bytes:
    """The raw body, refused (413) as soon as it passes CERTMON_PUSH_MAX_BYTES."""
    limit = get_settings().push_max_bytes
    declared = request.headers.get("content-length", "")
    too_large = TooLarge(f"innsendingen er større enn grensen på {limit} byte (CERTMON_PUSH_MAX_BYTES)")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise CertmonError("tom innsending: send innholdet i kildens eget format som body")
    return body


@router.post("/{name}/items", response_model=PushReceived, status_code=202, responses=errors(400, 413),
             openapi_extra=PUSH_BODY)
async def push_items(
    request: Request,
    target: Annotated[tuple[int, str], Depends(feed_target)],
    body: Annotated[bytes, Depends(push_body)],
    filename: Annotated[str | None, Query(max_length=200, description=(
        "the payload's file name, for formats that read it (e.g. a Shadowserver report type)"))] = None,
) -> PushReceived:
    """Push items in the source's own format: the same parse, dedup, match and alert path as a fetch,
    recorded as a run of the source. Analysts, admins, and feeder accounts granted this source."""
    source_id, email = target
    report = await run_in_threadpool(
        push_payload, session_factory(), source_id=source_id, body=body, content_type=request.headers.get(
            "content-type"), filename=filename or f"push-{request.path_params['name']}", pushed_by=email)
    return PushReceived(received=report.items_total, new=report.items_new, run=report.run_id)


def _source(session: SessionDep, name: str) -> Source:
    return service.get_source(session, name=name)


def _read(user: User) -> FeederRead:
    return FeederRead(email=user.email, name=user.name, active=user.active)


@router.get("/{name}/feeders", response_model=list[FeederRead])
def list_feeders(name: str, session: SessionDep, user: Admin) -> list[FeederRead]:
    """The feeder accounts that may push to this source (admin)."""
    return [_read(u) for u in feeders.list_feeders(session, source=_source(session, name))]


@router.put("/{name}/feeders/{email}", response_model=FeederRead)
def grant_feeder(name: str, email: str, session: SessionDep, user: Admin) -> FeederRead:
    """Let a feeder account push to this source (admin; audited)."""
    return _read(feeders.grant_feeder(session, source=_source(session, name), email=email, actor=user.email))


@router.delete("/{name}/feeders/{email}", status_code=204)
def revoke_feeder(name: str, email: str, session: SessionDep, user: Admin) -> Response:
    """Take a feeder account's access to this source away (admin; audited)."""
    feeders.revoke_feeder(session, source=_source(session, name), email=email, actor=user.email)
    return Response(status_code=204)
