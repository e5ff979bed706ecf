"""Reports: create for a period, list and get within a clearance, edit while draft, approve (freeze)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.db import utcnow
from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.reports.figures import Figures, compute_figures
from certmon.reports.models import Report
from certmon.reports.periods import Period, current_week, custom_period, parse_period
from certmon.reports.render import gettext, render_html, render_pdf
from certmon.tlp import TLP, max_tlp, parse_tlp

DEFAULT_CEILING = TLP.AMBER
MAX_ASSESSMENT = 20_000


@dataclass
class Rendered:
    """A report's document in both forms (frozen for approved reports, fresh for drafts)."""

    html: str
    pdf: bytes | None = None


def period_of(report: Report) -> Period:
    """The Period a stored report covers."""
    return parse_period(report.period_key)


def live_figures(session: Session, report: Report) -> Figures:
    """The report's figures computed now from the data, within its TLP ceiling."""
    return compute_figures(session, period=period_of(report), ceiling=parse_tlp(report.tlp_max, TLP.AMBER))


def _ceiling(tlp: str | TLP | None) -> TLP:
    try:
        ceiling = parse_tlp(tlp, DEFAULT_CEILING)
    except ValueError as exc:
        raise ValidationFailed(f"ugyldig TLP: {exc}") from None
    if ceiling >= TLP.RED:
        raise ValidationFailed("en rapport kan aldri inneholde TLP:RED; velg høyst TLP:AMBER+STRICT")
    return ceiling


def label_of(report: Report, data_tlp: str) -> str:
    """A report's label: the highest TLP of what it counts, raised to the assessment's own marking."""
    return max_tlp([parse_tlp(data_tlp, TLP.AMBER), parse_tlp(report.assessment_tlp, TLP.CLEAR)]).value_str


def _assessment_tlp(tlp: str | TLP | None, ceiling: TLP) -> str:
    """The analysts' marking of their text: within the report's ceiling (who may read it) and never RED."""
    try:
        marking = parse_tlp(tlp) if tlp not in (None, "") else TLP.CLEAR
    except ValueError as exc:
        raise ValidationFailed(f"ugyldig TLP for vurderingen: {exc}") from None
    if marking > ceiling:
        raise ValidationFailed(f"vurderingen kan ikke merkes over rapportens grense ({ceiling.label}); "
                               "lag en rapport med høyere grense")
    return marking.value_str


def create_report(
    session: Session, *, actor: str, period: str | None = None, first_day: date | None = None,
    last_day: date | None = None, tlp: str | TLP | None = None, title: str | None = None, assessment: str = "",
    assessment_tlp: str | TLP | None = None,
) -> Report:
    """A draft report for a period (`2026-W47`, `2026-11`, `2026-T3`) or for `first_day`..`last_day`."""
    if period:
        chosen = parse_period(period)
    elif first_day and last_day:
        chosen = custom_period(first_day, last_day)
    else:
        raise ValidationFailed("oppgi en periode (f.eks. 2026-W47) eller både fra- og til-dato")
    ceiling = _ceiling(tlp)
    text = (title or "").strip() or f"{gettext('Situation report')} {chosen.label()}"
    report = Report(period_kind=chosen.kind, period_key=chosen.key, period_start=chosen.start_utc,
                    period_end=chosen.end_utc, title=text[:300], tlp_max=ceiling.value_str, tlp="clear",
                    status="draft", assessment=_checked_text(assessment), created_by=actor,
                    assessment_tlp=_assessment_tlp(assessment_tlp, ceiling))
    session.add(report)
    session.flush()
    report.tlp = label_of(report, compute_figures(session, period=chosen, ceiling=ceiling).tlp)
    record(session, actor=actor, action="report.create", entity_type="report", entity_id=report.id,
           period=chosen.key, tlp_max=ceiling.value_str)
    return report


def _checked_text(text: str | None) -> str:
    value = (text or "").replace("\r\n", "\n")
    if len(value) > MAX_ASSESSMENT:
        raise ValidationFailed(f"vurderingen kan være høyst {MAX_ASSESSMENT} tegn")
    return value


def visible_levels(ceiling: TLP) -> list[str]:
    """The stored TLP strings at or below a clearance."""
    return [t.value_str for t in TLP if t <= ceiling]


def list_reports(session: Session, *, clearance: TLP, limit: int = 50, offset: int = 0) -> tuple[list[Report], int]:
    """Reports a reader may see (the report's ceiling within their clearance), newest period first."""
    where = Report.tlp_max.in_(visible_levels(clearance))
    total = session.scalar(select(func.count(Report.id)).where(where)) or 0
    rows = session.scalars(select(Report).where(where)
                           .order_by(Report.period_start.desc(), Report.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def get_report(session: Session, *, report_id: int, clearance: TLP) -> Report:
    """One report; NotFound when missing or above the reader's clearance (its existence is not revealed)."""
    report = session.get(Report, report_id)
    if report is None or parse_tlp(report.tlp_max, TLP.RED) > clearance:
        raise NotFound(f"rapport {report_id} finnes ikke")
    return report


def _draft(report: Report) -> Report:
    if report.status != "draft":
        raise Conflict(f"rapport {report.id} er godkjent og kan ikke endres; lag en ny rapport for perioden")
    return report


def update_report(session: Session, *, report: Report, actor: str, assessment: str | None = None,
                  title: str | None = None, assessment_tlp: str | TLP | None = None) -> Report:
    """Change a draft's assessment text, its marking or the title; an approved report never changes."""
    _draft(report)
    if assessment is not None:
        report.assessment = _checked_text(assessment)
    if assessment_tlp is not None:
        report.assessment_tlp = _assessment_tlp(assessment_tlp, parse_tlp(report.tlp_max, TLP.AMBER))
    if title is not None and title.strip():
        report.title = title.strip()[:300]
    report.tlp = label_of(report, live_figures(session, report).tlp)
    report.updated_at = utcnow()
    record(session, actor=actor, action="report.update", entity_type="report", entity_id=report.id)
    return report


def report_figures(session: Session, report: Report) -> Figures | dict[str, object]:
    """The frozen figures of an approved report, or freshly computed figures of a draft."""
    if report.status == "approved" and report.figures is not None:
        return report.figures
    return live_figures(session, report)


def render_draft(session: Session, report: Report, *, pdf: bool = False, now: datetime | None = None) -> Rendered:
    """Render a report from the current data (drafts; and approval, which then freezes the result)."""
    period = period_of(report)
    figures = live_figures(session, report)
    html = render_html(report=report, period=period, figures=figures, generated_at=now or utcnow())
    return Rendered(html, render_pdf(html) if pdf else None)


def rendered(session: Session, report: Report, *, pdf: bool = False) -> Rendered:
    """The document to hand out: the frozen bytes of an approved report, a fresh render of a draft."""
    if report.status == "approved" and report.html is not None:
        return Rendered(report.html, report.pdf)
    return render_draft(session, report, pdf=pdf)


def approve_report(session: Session, *, report: Report, actor: str, now: datetime | None = None) -> Report:
    """Approve a draft: compute and render once, and freeze figures, HTML, PDF and their SHA-256."""
    _draft(report)
    now = now or utcnow()
    period = period_of(report)
    figures = live_figures(session, report)
    report.status, report.approved_by, report.approved_at = "approved", actor, now
    report.tlp = label_of(report, figures.tlp)
    html = render_html(report=report, period=period, figures=figures, generated_at=now)
    pdf = render_pdf(html)
    report.figures = figures.to_dict()
    report.html, report.pdf = html, pdf
    report.html_sha256 = hashlib.sha256(html.encode("utf-8")).hexdigest()
    report.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    record(session, actor=actor, action="report.approve", entity_type="report", entity_id=report.id,
           pdf_sha256=report.pdf_sha256, tlp=report.tlp)
    session.flush()
    return report


def create_current_week_draft(session: Session, *, actor: str, now: datetime | None = None) -> Report:
    """A draft for the current ISO week (demo start-up), unless one exists already."""
    week = current_week(now or utcnow())
    existing = session.scalar(select(Report).where(Report.period_kind == "week", Report.period_key == week.key,
                                                   Report.status == "draft"))
    return existing or create_report(session, actor=actor, period=week.key)
