"""Indicator exports for firewalls, SIEMs and partners (CSV, JSON Lines, STIX 2.1), bounded by TLP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from certmon.auth.models import User
from certmon.dbutil import DB_INT_MAX
from certmon.errors import ValidationFailed
from certmon.exports.service import (
    DEFAULT_LIMIT,
    FORMATS,
    INDICATOR_TYPES,
    MAX_LIMIT,
    Export,
    ExportQuery,
    export_indicators,
)
from certmon.schema_types import TlpName, documented
from certmon.tlp import TLP, parse_tlp
from certmon.web.deps import EXPORTS, DbIdFilter, Reader, SessionDep, user_clearance

router = APIRouter(prefix="/api/v1/export", tags=["eksport"])
ExportFormat = Annotated[str, documented(FORMATS)]
IndicatorType = Annotated[str, documented(INDICATOR_TYPES)]


def ceiling(user: User, asked: str | None, cap: TLP | None = None) -> TLP:
    """The lower of the caller's clearance, an optional cap and the ceiling asked for (default: clearance)."""
    top = user_clearance(user) if cap is None else min(user_clearance(user), cap)
    if asked is None:
        return top
    try:
        return min(top, parse_tlp(asked))
    except ValueError:
        raise ValidationFailed(f"ukjent TLP {asked!r}; gyldige: clear, green, amber, amber+strict, red") from None


def as_response(export: Export) -> Response:
    """The file as an attachment labelled with its highest TLP."""
    return Response(content=export.body, media_type=export.media_type, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-TLP": export.tlp.label, "X-Count": str(export.count), "Cache-Control": "no-store",
        "X-Truncated": "true" if export.truncated else "false",
    })


@router.get("/indicators", response_class=Response, openapi_extra=EXPORTS)
def export_indicator_file(
    session: SessionDep, user: Reader,
    format: ExportFormat = Query("csv", description="csv, jsonl eller stix (STIX 2.1-bundle)"),
    since: datetime | None = Query(None, description="bare indikatorer sett siden (ISO 8601)"),
    type: list[IndicatorType] = Query([], description="indikatortyper, f.eks. ipv4, domain, url, sha256"),  # noqa: A002
    source_id: DbIdFilter = None,
    constituent_id: int | None = Query(None, ge=1, le=DB_INT_MAX, description="bare det som er varslet til"),
    tlp_max: TlpName | None = Query(None, description="høyeste TLP i filen (aldri over din klarering)"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    """Live indicators at or below the ceiling, newest first; every record carries its TLP; audited."""
    q = ExportQuery(tlp_max=ceiling(user, tlp_max), since=since, types=type, source_id=source_id,
                    constituent_id=constituent_id, limit=limit)
    return as_response(export_indicators(session, q, format, actor=user.email))
