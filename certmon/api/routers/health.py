"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from certmon import plugins
from certmon.db import get_engine
from certmon.metrics import DatabaseCollector, OutboxCollector, QueueCollector
from certmon.web.deps import errors

log = logging.getLogger(__name__)

router = APIRouter(tags=["drift"])
_registry = CollectorRegistry()
_registry.register(DatabaseCollector())
_registry.register(OutboxCollector())
_registry.register(QueueCollector())


@router.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    """200 while the process lives."""
    return "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    problems: dict[str, str] = Field(default_factory=dict, description="what is down (database, broker)")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
def readyz() -> JSONResponse:
    """200 when the database and the broker answer; otherwise 503 naming what is down."""
    problems: dict[str, str] = {}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness: database: %s", str(exc).splitlines()[0])
        problems["database"] = "databasen svarer ikke"
    workers = plugins.optional("workers")
    if workers is not None:
        reason = workers.broker_problem()
        if reason:
            problems["broker"] = reason
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
                       **errors(403)})
def metrics() -> Response:
    """Prometheus text format. In production (CERTMON_OPS_ACCESS=restricted) only for the networks in
    CERTMON_OPS_NETWORKS or with `Authorization: Bearer <CERTMON_OPS_TOKEN>`; 403 otherwise."""
    return Response(generate_latest(_registry), media_type=CONTENT_TYPE_LATEST)
