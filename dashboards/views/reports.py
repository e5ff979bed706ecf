"""Rapporter: situation reports — list, create for a period, edit the assessment while draft, approve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.db import utcnow
from certmon.errors import CertmonError
from certmon.reports import service
from certmon.reports.figures import Figures
from certmon.reports.models import Report
from certmon.reports.periods import current_week
from certmon.reports.render import assessment_html
from certmon.tlp import TLP, max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.formatting import tlp_of
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
LIMIT = 20
CEILINGS = (TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT)


@router.get("/rapporter")
def reports_page(request: Request, session: SessionDep, user: Viewer, offset: int = 0) -> Response:
    """Reports, newest period first, and (analysts) a form to create one."""
    offset = max(offset, 0)
    rows, total = service.list_reports(session, clearance=tlp_ceiling(user), limit=LIMIT, offset=offset)
    return render(request, user, "reports.html", page_tlp=max_tlp([tlp_of(r.tlp) for r in rows]),
                  rows=rows, total=total, pager=Pager(request, total, LIMIT, offset),
                  suggested=current_week(utcnow()).key,
                  ceilings=[c for c in CEILINGS if c <= tlp_ceiling(user)])


def _visible(session: SessionDep, user: Viewer, report_id: int) -> Report:
    try:
        return service.get_report(session, report_id=report_id, clearance=tlp_ceiling(user))
    except CertmonError:
        raise PageError(404, _("No such report.")) from None


@router.post("/rapporter", dependencies=[CsrfChecked])
def create_report(request: Request, session: SessionDep, user: Analyst, period: Annotated[str, Form()] = "",
                  tlp: Annotated[str, Form()] = "amber") -> Response:
    """Create a draft for a period and open it."""
    try:
        report = service.create_report(session, actor=user.email, period=period, tlp=tlp)
    except CertmonError as exc:
        flash(request, exc.message, "error")
        return back_to("/rapporter", "/rapporter")
    flash(request, _("Draft report created."))
    return back_to(f"/rapporter/{report.id}", "/rapporter")


@router.get("/rapporter/{report_id}")
def report_page(request: Request, session: SessionDep, user: Viewer, report_id: int) -> Response:
    """One report: facts, key figures, the assessment (editable while draft), approve, downloads."""
    report = _visible(session, user, report_id)
    figures = service.report_figures(session, report)
    data = figures.to_dict() if isinstance(figures, Figures) else figures
    label = tlp_of(service.label_of(report, str(data.get("tlp") or report.tlp)) if report.status == "draft"
                   else report.tlp)
    ceiling = tlp_of(report.tlp_max)
    return render(request, user, "reports_detail.html", page_tlp=label, report=report, label=label,
                  assessment_levels=[t for t in CEILINGS if t <= ceiling],
                  figures=data, period=service.period_of(report),
                  assessment=assessment_html(report.assessment))


@router.post("/rapporter/{report_id}/vurdering", dependencies=[CsrfChecked])
def save_assessment(request: Request, session: SessionDep, user: Analyst, report_id: int,
                    assessment: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                    assessment_tlp: Annotated[str, Form()] = "") -> Response:
    """Save a draft's assessment text, its marking and the title."""
    report = _visible(session, user, report_id)
    try:
        service.update_report(session, report=report, actor=user.email, assessment=assessment, title=title,
                              assessment_tlp=assessment_tlp or None)
    except CertmonError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, _("The assessment is saved."))
    return back_to(f"/rapporter/{report.id}", "/rapporter")


@router.post("/rapporter/{report_id}/godkjenn", dependencies=[CsrfChecked])
def approve(request: Request, session: SessionDep, user: Analyst, report_id: int) -> Response:
    """Approve a draft: its HTML and PDF are archived and never change."""
    report = _visible(session, user, report_id)
    try:
        service.approve_report(session, report=report, actor=user.email)
    except CertmonError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, _("The report is approved and archived."))
    return back_to(f"/rapporter/{report.id}", "/rapporter")
