"""`certmon incidents …`: open and follow up incidents (hendelser) and their reporting clocks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo

import typer

from certmon.cli.common import db_session, out
from certmon.cli.framework import CertmonBadParameter, CertmonTyper
from certmon.errors import CertmonError
from certmon.i18n import N_, _, count

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from certmon.incidents import clocks
    from certmon.incidents.models import Incident

app = CertmonTyper(help=N_("Incidents: cases with affected organisations, a timeline and reporting deadlines."))
OSLO = ZoneInfo("Europe/Oslo")
ACTOR = "cli"
Severity = Literal["low", "medium", "high", "critical"]
Model = Literal["norsk", "nis2"]  # certmon.incidents.clocks.MODELS
Status = Literal["open", "in_progress", "closed", "active"]  # certmon.incidents.models.STATUSES + active
STATE_NB = {"met": "overholdt", "late": "sendt for sent", "overdue": "oversittet", "open": "åpen"}


def _local(value: datetime | None) -> str:
    return value.astimezone(OSLO).strftime("%d.%m.%Y %H:%M") if value else "-"


def _aware_at(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """Parameter callback: ISO 8601, or a usage error saying so."""
    if value and not ctx.resilient_parsing:
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            raise CertmonBadParameter(_("%(value)s is not an ISO 8601 time (e.g. 2026-03-01T10:00)") % {
                "value": f"«{value}»"}, ctx=ctx, param=cast(Any, param)) from None
    return value


def _parse_aware_at(text: str) -> datetime | None:
    """ISO 8601; a time without an offset is read as Oslo local time."""
    if not text:
        return None
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=OSLO) if value.tzinfo is None else value


def _countdown(d: clocks.Deadline, now: datetime) -> str:
    state = d.state(now)
    if state != "open":
        return STATE_NB[state]
    minutes = int(d.remaining(now).total_seconds() // 60)
    return f"forfaller om {minutes // 60} t {minutes % 60} min"


def _find(session: Session, ref: str) -> Incident:
    from certmon.incidents import service
    from certmon.tlp import TLP

    return service.find_incident(session, ref=ref, tlp_max=TLP.RED)


def _ref() -> str:
    return typer.Argument(..., metavar="REFERENCE", help=N_(  # type: ignore[no-any-return]
        "the reference (HKH-2026-000012) or id"))


@app.command("create")
def create(
    title: str = typer.Option(..., "--title", metavar="TEXT", help=N_("a short title")),
    severity: Severity = typer.Option("medium", "--severity", help=N_("how severe")),
    aware_at: str = typer.Option("", "--aware-at", metavar="TIME", callback=_aware_at, help=N_(
        "when the CERT became aware (ISO 8601; without a zone: Oslo)")),
    model: Model = typer.Option("norsk", "--model", help=N_("the reporting model")),
    personal_data: bool = typer.Option(False, "--personal-data", help=N_("personal data is affected")),
    org: list[str] = typer.Option([], "--org", metavar="ORG_NUMBER", help=N_(
        "organisation number of an affected organisation")),
    tlp: str = typer.Option("amber", "--tlp", metavar="TLP", help=N_(
        "TLP marking (clear, green, amber, amber+strict, red)")),
    description: str = typer.Option("", "--description", metavar="TEXT", help=N_("a description")),
) -> None:
    """Open an incident and print its reference and deadlines."""
    from certmon.incidents import service
    from certmon.incidents.schemas import IncidentCreate
    from certmon.registry.service import find_by_org_number

    with db_session() as session:
        ids = []
        for number in org:
            constituent = find_by_org_number(session, number.strip())
            if constituent is None:
                raise CertmonError(f"--org: fant ingen virksomhet med organisasjonsnummer {number}")
            ids.append(constituent.id)
        data = IncidentCreate(title=title, severity=severity, aware_at=_parse_aware_at(aware_at),
                              reporting_model=model, personal_data=personal_data,
                              constituent_ids=ids, tlp=tlp, description=description)
        incident = service.create_incident(session, data=data, actor=ACTOR)
        out.print(f"{incident.reference} opprettet", markup=False)
        _print_clocks(session, incident)


@app.command("list")
def list_(
    status: Status | None = typer.Option(None, "--status", help=N_("only this status (active: not closed)")),
    severity: Severity | None = typer.Option(None, "--severity", help=N_("only this severity")),
    org: str = typer.Option("", "--org", metavar="ORG_NUMBER", help=N_(
        "only incidents that affect this organisation")),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help=N_("at most this many")),
) -> None:
    """List incidents, newest first: reference, status, severity, TLP, next deadline, title."""
    from certmon.db import utcnow
    from certmon.incidents import clocks, service
    from certmon.registry.service import find_by_org_number
    from certmon.tlp import TLP

    with db_session() as session:
        constituent_id = None
        if org:
            constituent = find_by_org_number(session, org.strip())
            if constituent is None:
                raise CertmonError(f"--org: fant ingen virksomhet med organisasjonsnummer {org}")
            constituent_id = constituent.id
        rows, total = service.list_incidents(session, tlp_max=TLP.RED, status=status, severity=severity,
                                             constituent_id=constituent_id, limit=limit)
        found, now = service.clocks_for(session, rows), utcnow()
        for i in rows:
            nxt = clocks.next_open(found[i.id])
            due = f"{nxt.name}: {_countdown(nxt, now)}" if nxt else "-"
            out.print(f"{i.reference}\t{i.status}\t{i.severity}\t{i.tlp}\t{due}\t{i.title}", markup=False)
        out.print(count("%(num)s incident", "%(num)s incidents", total))


@app.command("show")
def show(ref: str = _ref()) -> None:
    """Show one incident: details, affected organisations, links, deadlines and timeline."""
    from certmon.incidents import links, service
    from certmon.registry.service import display_name
    from certmon.tlp import TLP

    with db_session() as session:
        i = _find(session, ref)
        lines = [f"{i.reference}  {i.title}",
                 f"status {i.status} · alvorlighetsgrad {i.severity} · {TLP(i.tlp_rank).label} · "
                 f"modell {i.reporting_model}{' · personopplysninger' if i.personal_data else ''}",
                 f"kjennskap {_local(i.aware_at)} · opprettet av {i.created_by}"]
        if i.description:
            lines.append(i.description)
        linked = links.linked(session, incident_id=i.id, clearance=TLP.RED)
        lines += [f"berørt: {c.org_number or '-'} {display_name(c)}" for c in linked.constituents]
        lines += [f"element {item.id}: [{item.tlp}] {item.title or item.value or item.key}" for item in linked.items]
        lines += [f"treff {m.id}: {display_name(c)} – {m.explanation}" for m, _item, c in linked.matches]
        for line in lines:
            out.print(line, markup=False)
        _print_clocks(session, i)
        for e in service.timeline(session, incident_id=i.id):
            out.print(f"{_local(e.at)}\t{e.kind}\t{e.actor}\t{e.text}", markup=False)


def _print_clocks(session: Session, incident: Incident) -> None:
    from certmon.db import utcnow
    from certmon.incidents import service

    now = utcnow()
    for d in service.clocks_for(session, [incident])[incident.id]:
        out.print(f"frist {d.key}\t{d.name}\t{_local(d.due_at)}\t{_countdown(d, now)}", markup=False)


def _add_event(ref: str, kind: str, text: str) -> None:
    from certmon.incidents import service

    with db_session() as session:
        service.add_event(session, incident=_find(session, ref), kind=kind, text=text, actor=ACTOR)


@app.command("note")
def note(ref: str = _ref(), text: str = typer.Argument(..., metavar="TEXT", help=N_("the note"))) -> None:
    """Add a note to the timeline."""
    _add_event(ref, "note", text)
    out.print("notat lagt til")


@app.command("measure")
def measure(ref: str = _ref(), text: str = typer.Argument(..., metavar="TEXT", help=N_("the measure"))) -> None:
    """Record a measure (tiltak) on the timeline."""
    _add_event(ref, "measure", text)
    out.print("tiltak lagt til")


@app.command("report-sent")
def report_sent(
    ref: str = _ref(),
    deadline: str = typer.Option(..., "--deadline", metavar="KEY", help=N_(
        "the deadline's key, e.g. nsm-24h (see `show`)")),
    text: str = typer.Option("", "--text", metavar="TEXT", help=N_("what was sent, and to whom")),
) -> None:
    """Record that a report was sent for one deadline (met if before it falls due)."""
    from certmon.incidents import service

    with db_session() as session:
        incident = _find(session, ref)
        service.add_event(session, incident=incident, kind="report-sent", text=text, actor=ACTOR, deadline=deadline)
        session.flush()
        found = {d.key: d for d in service.clocks_for(session, [incident])[incident.id]}
        out.print(f"{found[deadline].name}: {'overholdt' if found[deadline].met else 'sendt etter fristen'}",
                  markup=False)


@app.command("close")
def close(ref: str = _ref()) -> None:
    """Close an incident (avsluttet)."""
    from certmon.incidents import service
    from certmon.incidents.schemas import IncidentUpdate

    with db_session() as session:
        incident = _find(session, ref)
        service.update_incident(session, incident=incident, data=IncidentUpdate(status="closed"), actor=ACTOR)
        out.print(f"{incident.reference} avsluttet", markup=False)
