"""Hendelser: the incident list, one incident with its clocks and timeline, and the analysts' forms."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.db import utcnow
from certmon.errors import CertmonError, NotFound
from certmon.incidents import clocks, links, service
from certmon.incidents.models import SEVERITIES, STATUSES, Incident
from certmon.incidents.schemas import IncidentCreate, IncidentUpdate
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.registry.service import find_by_org_number
from certmon.tlp import TLP, max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import N_, OSLO, tlp_of
from dashboards.formatting import gettext as _
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
LIMIT = 25
TLPS = ("clear", "green", "amber", "amber+strict", "red")
STATUS_LABELS = {"open": N_("New"), "in_progress": N_("In progress"), "closed": N_("Finished")}
EVENT_LABELS = {"note": N_("Log note"), "measure": N_("Measure"), "status": N_("Status"),
                "report-sent": N_("Report sent"), "link": N_("Link")}
MODEL_LABELS = {"norsk": N_("Norwegian: HOD immediately, NSM 24 h, Datatilsynet 72 h"),
                "nis2": N_("NIS2: early warning 24 h, notification 72 h, final report 1 month")}
EVENT_DONE = {"note": N_("Note added."), "measure": N_("Measure recorded."), "report-sent": N_("Report recorded.")}


def countdown(deadline: clocks.Deadline, now: datetime) -> str:
    """Bokmål state of a deadline: `forfaller om 3 t 12 min`, `oversittet`, `rapportert i tide` …"""
    state = deadline.state(now)
    if state == "met":
        return _("reported in time")
    if state == "late":
        return _("reported too late")
    if state == "overdue":
        return _("overdue")
    minutes = int(deadline.remaining(now).total_seconds() // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return _("due in %(d)s d %(h)s h") % {"d": days, "h": hours}
    return _("due in %(h)s h %(m)s min") % {"h": hours, "m": minutes % 60}


def _clock_rows(found: list[clocks.Deadline], now: datetime) -> list[dict[str, Any]]:
    return [{"d": d, "state": d.state(now), "text": countdown(d, now)} for d in found]


def _labels() -> dict[str, dict[str, str]]:
    return {"status": {k: _(v) for k, v in STATUS_LABELS.items()},
            "event": {k: _(v) for k, v in EVENT_LABELS.items()},
            "model": {k: _(v) for k, v in MODEL_LABELS.items()}}


@router.get("/hendelser")
def incident_list(request: Request, session: SessionDep, user: Viewer, status: str | None = None,
                  severity: str | None = None, offset: int = 0) -> Response:
    """Incidents, newest first; by default the ones not closed. Overdue clocks are highlighted."""
    status = "active" if status is None else status
    chosen = status if status in (*STATUSES, "active") else None
    severity = severity if severity in SEVERITIES else None
    offset = max(offset, 0)
    rows, total = service.list_incidents(session, tlp_max=tlp_ceiling(user), status=chosen, severity=severity,
                                         limit=LIMIT, offset=offset)
    now, found = utcnow(), service.clocks_for(session, rows)
    entries = []
    for i in rows:
        nxt = clocks.next_open(found[i.id])
        entries.append({"i": i, "next": nxt, "next_text": countdown(nxt, now) if nxt else "",
                        "next_state": nxt.state(now) if nxt else "",
                        "overdue": clocks.overdue(found[i.id], now)})
    return render(request, user, "incidents.html", page_tlp=max_tlp([tlp_of(i.tlp) for i in rows]),
                  entries=entries, pager=Pager(request, total, LIMIT, offset), labels=_labels(),
                  filters={"status": status, "severity": severity or ""}, statuses=STATUSES,
                  severities=SEVERITIES)


def _form_page(request: Request, session: Session, user: User, form: dict[str, str], problems: list[str],
               status: int = 200) -> Response:
    match_id = form.get("match", "")
    return render(request, user, "incident_new.html", http_status=status, form=form, problems=problems,
                  severities=SEVERITIES, tlps=TLPS, models=clocks.MODELS, labels=_labels(),
                  match=_visible_match(session, user, match_id) if match_id else None,
                  now_local=utcnow().astimezone(OSLO).strftime("%d.%m.%Y %H:%M"))


def _visible_match(session: Session, user: User, match_id: str) -> Match | None:
    match = session.get(Match, int(match_id)) if match_id.isdigit() else None
    if match is None:
        return None
    item = session.get(StoredItem, match.item_id)
    return match if item is not None and item.tlp_rank <= int(tlp_ceiling(user)) else None


@router.get("/hendelser/ny")
def new_incident(request: Request, session: SessionDep, user: Analyst, match: str = "",
                 constituent: str = "") -> Response:
    """The "Ny hendelse" form; `match` or `constituent` prefill it (from triage or an organisation)."""
    form: dict[str, str] = {"severity": "medium", "tlp": "amber", "model": "norsk", "match": match}
    found = _visible_match(session, user, match)
    if found is not None:
        item = session.get_one(StoredItem, found.item_id)
        form["severity"] = found.severity if found.severity in SEVERITIES else "medium"
        form["title"] = (item.title or item.value or item.key)[:300]
        form["tlp"] = max(tlp_of(item.tlp), TLP.AMBER).value_str  # never below what the item carries
        constituent = constituent or str(found.constituent_id)
    target = session.get(Constituent, int(constituent)) if constituent.isdigit() else None
    if target is not None and target.org_number:
        form["orgs"] = target.org_number
    return _form_page(request, session, user, form, [])


def _parse_local(text: str) -> datetime | None:
    """A Norwegian `dd.mm.åååå tt:mm` (or ISO 8601) time in Oslo time as an aware datetime; empty is now."""
    text = " ".join(text.split())
    if not text:
        return None
    for form in ("%d.%m.%Y %H:%M", "%d.%m.%Y kl. %H:%M", "iso"):
        try:
            value = datetime.fromisoformat(text) if form == "iso" else datetime.strptime(text, form)
        except ValueError:
            continue
        return value.replace(tzinfo=OSLO) if value.tzinfo is None else value
    raise CertmonError(_("The time of awareness must look like 01.03.2026 10:00 (dd.mm.åååå tt:mm).")) from None


def _org_ids(session: Session, text: str) -> list[int]:
    ids = []
    for number in (n for n in re.split(r"[\s,;]+", text) if n):
        constituent = find_by_org_number(session, number)
        if constituent is None:
            raise CertmonError(_("No organisation has the organisation number %(n)s.") % {"n": number})
        ids.append(constituent.id)
    return ids


@router.post("/hendelser", dependencies=[CsrfChecked])
def create_incident_form(
    request: Request, session: SessionDep, user: Analyst, title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "medium",
    tlp: Annotated[str, Form()] = "amber", aware_at: Annotated[str, Form()] = "",
    model: Annotated[str, Form()] = "norsk", personal_data: Annotated[str, Form()] = "",
    orgs: Annotated[str, Form()] = "", match: Annotated[str, Form()] = "",
) -> Response:
    """Open an incident and go to its page; problems are shown on the form with the values kept."""
    form = {"title": title, "description": description, "severity": severity, "tlp": tlp,
            "aware_at": aware_at, "model": model, "personal_data": personal_data, "orgs": orgs, "match": match}
    try:
        data = IncidentCreate(title=title, description=description, severity=severity, tlp=tlp,  # type: ignore[arg-type]
                              aware_at=_parse_local(aware_at), reporting_model=model,  # type: ignore[arg-type]
                              personal_data=bool(personal_data), constituent_ids=_org_ids(session, orgs))
        incident = service.create_incident(session, data=data, actor=user.email, clearance=tlp_ceiling(user))
        found = _visible_match(session, user, match)
        if found is not None:
            links.link(session, incident=incident, kind="match", target_id=found.id, actor=user.email,
                       clearance=tlp_ceiling(user))
    except pydantic.ValidationError as exc:
        session.rollback()
        problems = [f"{e['loc'][0] if e['loc'] else ''}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors()]
        return _form_page(request, session, user, form, problems, status=422)
    except CertmonError as exc:
        session.rollback()
        return _form_page(request, session, user, form, [exc.message], status=422)
    session.commit()
    flash(request, _("Incident %(ref)s opened.") % {"ref": incident.reference})
    return back_to(f"/hendelser/{incident.id}", "/hendelser")


def _incident(session: Session, user: User, incident_id: int) -> Incident:
    try:
        return service.get_incident(session, incident_id=incident_id, tlp_max=tlp_ceiling(user))
    except NotFound:
        raise PageError(404, _("No such incident, or it is above your TLP clearance.")) from None


@router.get("/hendelser/{incident_id}")
def incident_page(request: Request, session: SessionDep, user: Viewer, incident_id: int) -> Response:
    """One incident: facts, affected organisations, linked items and matches, clocks, timeline, forms."""
    incident = _incident(session, user, incident_id)
    ceiling, now = tlp_ceiling(user), utcnow()
    found = service.clocks_for(session, [incident])[incident.id]
    linked = links.linked(session, incident_id=incident.id, clearance=ceiling)
    return render(request, user, "incident.html", page_tlp=tlp_of(incident.tlp_rank), incident=incident,
                  linked=linked, clocks=_clock_rows(found, now), open_deadlines=[d for d in found if not d.sent_at],
                  timeline=list(reversed(service.timeline(session, incident_id=incident.id))),
                  labels=_labels(), statuses=STATUSES, severities=SEVERITIES, tlps=TLPS,
                  tlp_floor=service.tlp_floor(session, incident_id=incident.id))


def _done(request: Request, session: Session, message: str, incident_id: int, anchor: str) -> Response:
    session.commit()
    flash(request, message)
    return back_to(f"/hendelser/{incident_id}#{anchor}", "/hendelser")


def _failed(request: Request, session: Session, message: str, incident_id: int, anchor: str) -> Response:
    session.rollback()
    flash(request, message, "error")
    return back_to(f"/hendelser/{incident_id}#{anchor}", "/hendelser")


@router.post("/hendelser/{incident_id}/logg", dependencies=[CsrfChecked])
def add_event_form(request: Request, session: SessionDep, user: Analyst, incident_id: int,
                   kind: Annotated[str, Form()] = "note", text: Annotated[str, Form()] = "",
                   deadline: Annotated[str, Form()] = "") -> Response:
    """Add a note, a measure (tiltak) or record a report sent for one deadline."""
    incident = _incident(session, user, incident_id)
    if kind not in EVENT_DONE:
        raise PageError(400, _("Unknown action."))
    try:
        service.add_event(session, incident=incident, kind=kind, text=text, actor=user.email,
                          deadline=deadline or None)
    except CertmonError as exc:
        return _failed(request, session, exc.message, incident_id, "tidslinje")
    return _done(request, session, _(EVENT_DONE[kind]), incident_id, "frister" if kind == "report-sent" else
                 "tidslinje")


@router.post("/hendelser/{incident_id}/endre", dependencies=[CsrfChecked])
def update_incident_form(request: Request, session: SessionDep, user: Analyst, incident_id: int,
                         status: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "",
                         tlp: Annotated[str, Form()] = "") -> Response:
    """Change status, severity or TLP (never below what the incident links to)."""
    incident = _incident(session, user, incident_id)
    changes = {k: v for k, v in {"status": status, "severity": severity, "tlp": tlp}.items() if v}
    try:
        data = IncidentUpdate.model_validate(changes)
        service.update_incident(session, incident=incident, data=data, actor=user.email, clearance=tlp_ceiling(user))
    except pydantic.ValidationError:
        return _failed(request, session, _("Unknown status, severity or TLP."), incident_id, "endre")
    except CertmonError as exc:
        return _failed(request, session, exc.message, incident_id, "endre")
    return _done(request, session, _("Incident updated."), incident_id, "endre")


@router.post("/hendelser/{incident_id}/koblinger", dependencies=[CsrfChecked])
def add_link_form(request: Request, session: SessionDep, user: Analyst, incident_id: int,
                  kind: Annotated[str, Form()] = "", target: Annotated[str, Form()] = "") -> Response:
    """Link an organisation (by org. number), an item or a match (by id)."""
    incident = _incident(session, user, incident_id)
    target = target.strip()
    try:
        if kind == "constituent":
            ids = _org_ids(session, target)
            if len(ids) != 1:
                raise CertmonError(_("Give one organisation number."))
            target_id = ids[0]
        elif kind in ("item", "match") and target.isdigit():
            target_id = int(target)
        else:
            raise CertmonError(_("Give the number (id) of the item or match."))
        added = links.link(session, incident=incident, kind=kind, target_id=target_id, actor=user.email,
                           clearance=tlp_ceiling(user))
    except CertmonError as exc:
        return _failed(request, session, exc.message, incident_id, "koblinger")
    return _done(request, session, _("Link added.") if added else _("Already linked."), incident_id, "koblinger")


@router.post("/hendelser/{incident_id}/koblinger/{kind}/{target_id}/slett", dependencies=[CsrfChecked])
def remove_link_form(request: Request, session: SessionDep, user: Analyst, incident_id: int, kind: str,
                     target_id: int) -> Response:
    """Remove a link."""
    incident = _incident(session, user, incident_id)
    try:
        links.unlink(session, incident=incident, kind=kind, target_id=target_id, actor=user.email)
    except CertmonError as exc:
        return _failed(request, session, exc.message, incident_id, "koblinger")
    return _done(request, session, _("Link removed."), incident_id, "koblinger")


def overdue_card(session: Session, ceiling: TLP) -> list[dict[str, Any]]:
    """Open incidents with overdue clocks, for the situation page."""
    return [{"i": i, "late": late} for i, late in service.active_with_overdue(session, tlp_max=ceiling)]
