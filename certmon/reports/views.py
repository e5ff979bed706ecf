"""Reports API: `/api/v1/reports` (list, get, create, edit, approve, PDF and HTML), TLP-filtered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from certmon.reports import service
from certmon.reports.figures import Figures
from certmon.reports.models import Report
from certmon.schema_types import TlpBelowRed, TlpName
from certmon.web.deps import EXPORTS, Analyst, DbId, PageDep, Reader, SessionDep, user_clearance

router = APIRouter(prefix="/api/v1", tags=["rapporter"])
# the report carries its own inline CSS (for the PDF); nothing else may load
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class ReportRead(BaseModel):
    """A report as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    period_kind: str
    period_key: str
    period_start: datetime
    period_end: datetime
    title: str
    tlp: str
    tlp_max: str
    assessment_tlp: str
    status: str
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    pdf_sha256: str | None
    html_sha256: str | None


class ReportDetail(ReportRead):
    """A report with its assessment text and figures (frozen once approved)."""

    assessment: str
    figures: dict[str, Any]


class ReportCreate(BaseModel):
    """A new draft: a named period (`2026-W47`, `2026-11`, `2026-T3`) or `from`/`to` dates (both included)."""

    model_config = ConfigDict(populate_by_name=True)

    period: str | None = None
    from_date: date | None = Field(None, alias="from")
    to_date: date | None = Field(None, alias="to")
    tlp: TlpBelowRed = "amber"
    title: str | None = None
    assessment: str = ""
    assessment_tlp: TlpName = Field("clear", description="the assessment text's own marking; the report's label "
                                "is never below it, and it may not exceed `tlp`")


class ReportUpdate(BaseModel):
    """Changes to a draft."""

    assessment: str | None = None
    title: str | None = None
    assessment_tlp: TlpName | None = None


def _detail(session: SessionDep, report: Report) -> ReportDetail:
    figures = service.report_figures(session, report)
    data = figures.to_dict() if isinstance(figures, Figures) else dict(figures)
    return ReportDetail(**ReportRead.model_validate(report).model_dump(), assessment=report.assessment,
                        figures=data)


@router.get("/reports")
def list_reports(session: SessionDep, user: Reader, page: PageDep) -> dict[str, Any]:
    """Reports within the reader's clearance, newest period first: `{"items": [...], "total": N}`."""
    rows, total = service.list_reports(session, clearance=user_clearance(user), limit=page.limit,
                                       offset=page.offset)
    return {"items": [ReportRead.model_validate(r) for r in rows], "total": total}


@router.get("/reports/{report_id}.pdf", response_class=Response, openapi_extra=EXPORTS)
def report_pdf(report_id: DbId, session: SessionDep, user: Reader) -> Response:
    """The report as PDF (the archived bytes once approved)."""
    report = service.get_report(session, report_id=report_id, clearance=user_clearance(user))
    pdf = service.rendered(session, report, pdf=True).pdf or b""
    return Response(pdf, media_type="application/pdf", headers=_download_headers(report, "pdf"))


@router.get("/reports/{report_id}.html", response_class=Response, openapi_extra=EXPORTS)
def report_html(report_id: DbId, session: SessionDep, user: Reader) -> Response:
    """The report as one self-contained HTML document (the archived text once approved)."""
    report = service.get_report(session, report_id=report_id, clearance=user_clearance(user))
    html = service.rendered(session, report).html
    headers = {**_download_headers(report, "html"), "content-security-policy": REPORT_CSP}
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def _download_headers(report: Report, ext: str) -> dict[str, str]:
    name = f"situasjonsbilde-{report.period_key.replace('..', '_')}-{report.id}.{ext}"
    headers = {"content-disposition": f'inline; filename="{name}"', "cache-control": "no-store"}
    digest = report.pdf_sha256 if ext == "pdf" else report.html_sha256
    if report.status == "approved" and digest:
        headers["x-content-sha256"] = digest
    return headers


@router.get("/reports/{report_id:int}", response_model=ReportDetail)
def get_report(report_id: DbId, session: SessionDep, user: Reader) -> ReportDetail:
    """One report with its assessment and figures."""
    return _detail(session, service.get_report(session, report_id=report_id, clearance=user_clearance(user)))


@router.post("/reports", response_model=ReportDetail, status_code=201)
def create_report(body: ReportCreate, session: SessionDep, user: Analyst) -> ReportDetail:
    """Create a draft for a period; `tlp` is the highest TLP it may count (default amber, never red)."""
    report = service.create_report(session, actor=user.email, period=body.period, first_day=body.from_date,
                                   last_day=body.to_date, tlp=body.tlp, title=body.title,
                                   assessment=body.assessment, assessment_tlp=body.assessment_tlp)
    return _detail(session, report)


@router.patch("/reports/{report_id:int}", response_model=ReportDetail)
def update_report(report_id: DbId, body: ReportUpdate, session: SessionDep, user: Analyst) -> ReportDetail:
    """Edit a draft's assessment or title (409 once approved)."""
    report = service.get_report(session, report_id=report_id, clearance=user_clearance(user))
    service.update_report(session, report=report, actor=user.email, assessment=body.assessment, title=body.title,
                          assessment_tlp=body.assessment_tlp)
    return _detail(session, report)


@router.post("/reports/{report_id}/approve", response_model=ReportDetail)
def approve_report(report_id: DbId, session: SessionDep, user: Analyst) -> ReportDetail:
    """Approve a draft: figures, HTML and PDF are frozen with their SHA-256 (409 if already approved)."""
    report = service.get_report(session, report_id=report_id, clearance=user_clearance(user))
    return _detail(session, service.approve_report(session, report=report, actor=user.email))
