"""`certmon incidents …`: open and follow up incidents (hendelser) and their reporting clocks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from certmon.cli.common import db_session, out
from certmon.db import utcnow
from certmon.errors import CertmonError
from certmon.incidents import clocks, links, service
from certmon.incidents.models import Incident
from certmon.incidents.schemas import IncidentCreate, IncidentUpdate
from certmon.registry.service import display_name, find_by_org_number
from certmon.tlp import TLP

app = typer.Typer(help="Hendelser: saker med berørte virksomheter, tidslinje og rapporteringsfrister.",
                  no_args_is_help=True)
OSLO = ZoneInfo("Europe/Oslo")
ACTOR = "cli"
SEVERITIES = ("low", "medium", "high", "critical")
STATE_NB = {"met": "overholdt", "late": "sendt for sent", "overdue": "oversittet", "open": "åpen"}


def _local(value: datetime | None) -> str:
    return value.astimezone(OSLO).strftime("%d.%m.%Y %H:%M") if value else "-"


def _parse_aware_at(text: str) -> datetime | None:
    """ISO 8601; a time without an offset is read as Oslo local time."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CertmonError(f"--aware-at: {text!r} er ikke et ISO 8601-tidspunkt (f.eks. 2026-03-01T10:00)") from None
    return value.replace(tzinfo=OSLO) if value.tzinfo is None else value


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise CertmonError(f"{option}: {value!r} er ugyldig; gyldige verdier: {', '.join(allowed)}")
    return value


def _countdown(d: clocks.Deadline, now: datetime) -> str:
    state = d.state(now)
    if state != "open":
        return STATE_NB[state]
    minutes = int(d.remaining(now).total_seconds() // 60)
    return f"forfaller om {minutes // 60} t {minutes % 60} min"


def _find(session: Session, ref: str) -> Incident:
    return service.find_incident(session, ref=ref, tlp_max=TLP.RED)


@app.command("create")
def create(
    title: str = typer.Option(..., "--title", help="kort tittel"),
    severity: str = typer.Option("medium", "--severity", help="low, medium, high eller critical"),
    aware_at: str = typer.Option("", "--aware-at", help="når CERT-en fikk kjennskap (ISO 8601; uten sone = Oslo)"),
    model: str = typer.Option("norsk", "--model", help="rapporteringsmodell: norsk eller nis2"),
    personal_data: bool = typer.Option(False, "--personal-data", help="personopplysninger er berørt"),
    org: list[str] = typer.Option([], "--org", help="organisasjonsnummer til en berørt virksomhet (gjentas)"),
    tlp: str = typer.Option("amber", "--tlp", help="TLP-merking (clear, green, amber, amber+strict, red)"),
    description: str = typer.Option("", "--description", help="beskrivelse"),
) -> None:
    """Open an incident and print its reference and deadlines."""
    _choice(severity, SEVERITIES, "--severity")
    _choice(model, clocks.MODELS, "--model")
    with db_session() as session:
        ids = []
        for number in org:
            constituent = find_by_org_number(session, number.strip())
            if constituent is None:
                raise CertmonError(f"--org: fant ingen virksomhet med organisasjonsnummer {number}")
            ids.append(constituent.id)
        data = IncidentCreate(title=title, severity=severity, aware_at=_parse_aware_at(aware_at),  # type: ignore[arg-type]
                              reporting_model=model, personal_data=personal_data,  # type: ignore[arg-type]
                              constituent_ids=ids, tlp=tlp, description=description)
        incident = service.create_incident(session, data=data, actor=ACTOR)
        out.print(f"{incident.reference} opprettet")
        _print_clocks(session, incident)


@app.command("list")
def list_(
    status: str = typer.Option("", "--status", help="open, in_progress, closed eller active (ikke avsluttet)"),
    severity: str = typer.Option("", "--severity", help="low, medium, high eller critical"),
    org: str = typer.Option("", "--org", help="bare hendelser som berører denne virksomheten"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """List incidents, newest first: reference, status, severity, TLP, next deadline, title."""
    if status:
        _choice(status, ("open", "in_progress", "closed", "active"), "--status")
    if severity:
        _choice(severity, SEVERITIES, "--severity")
    with db_session() as session:
        constituent_id = None
        if org:
            constituent = find_by_org_number(session, org.strip())
            if constituent is None:
                raise CertmonError(f"--org: fant ingen virksomhet med organisasjonsnummer {org}")
            constituent_id = constituent.id
        rows, total = service.list_incidents(session, tlp_max=TLP.RED, status=status or None,
                                             severity=severity or None, constituent_id=constituent_id, limit=limit)
        found, now = service.clocks_for(session, rows), utcnow()
        for i in rows:
            nxt = clocks.next_open(found[i.id])
            due = f"{nxt.name}: {_countdown(nxt, now)}" if nxt else "-"
            out.print(f"{i.reference}\t{i.status}\t{i.severity}\t{i.tlp}\t{due}\t{i.title}")
        out.print(f"{total} hendelser")


@app.command("show")
def show(ref: str = typer.Argument(..., help="referanse (HKH-2026-000012) eller id")) -> None:
    """Show one incident: details, affected organisations, links, deadlines and timeline."""
    with db_session() as session:
        i = _find(session, ref)
        out.print(f"{i.reference}  {i.title}")
        out.print(f"status {i.status} · alvorlighetsgrad {i.severity} · {TLP(i.tlp_rank).label} · "
                  f"modell {i.reporting_model}{' · personopplysninger' if i.personal_data else ''}")
        out.print(f"kjennskap {_local(i.aware_at)} · opprettet av {i.created_by}")
        if i.description:
            out.print(i.description)
        linked = links.linked(session, incident_id=i.id, clearance=TLP.RED)
        for c in linked.constituents:
            out.print(f"berørt: {c.org_number or '-'} {display_name(c)}")
        for item in linked.items:
            out.print(f"element {item.id}: [{item.tlp}] {item.title or item.value or item.key}")
        for m, _item, c in linked.matches:
            out.print(f"treff {m.id}: {display_name(c)} – {m.explanation}")
        _print_clocks(session, i)
        for e in service.timeline(session, incident_id=i.id):
            out.print(f"{_local(e.at)}\t{e.kind}\t{e.actor}\t{e.text}")


def _print_clocks(session: Session, incident: Incident) -> None:
    now = utcnow()
    for d in service.clocks_for(session, [incident])[incident.id]:
        out.print(f"frist {d.key}\t{d.name}\t{_local(d.due_at)}\t{_countdown(d, now)}")


@app.command("note")
def note(ref: str = typer.Argument(...), text: str = typer.Argument(..., help="notatet")) -> None:
    """Add a note to the timeline."""
    with db_session() as session:
        service.add_event(session, incident=_find(session, ref), kind="note", text=text, actor=ACTOR)
        out.print("notat lagt til")


@app.command("measure")
def measure(ref: str = typer.Argument(...), text: str = typer.Argument(..., help="tiltaket")) -> None:
    """Record a measure (tiltak) on the timeline."""
    with db_session() as session:
        service.add_event(session, incident=_find(session, ref), kind="measure", text=text, actor=ACTOR)
        out.print("tiltak lagt til")


@app.command("report-sent")
def report_sent(
    ref: str = typer.Argument(...),
    deadline: str = typer.Option(..., "--deadline", help="fristens nøkkel, f.eks. nsm-24h (se `show`)"),
    text: str = typer.Option("", "--text", help="hva som ble sendt, og til hvem"),
) -> None:
    """Record that a report was sent for one deadline (met if before it falls due)."""
    with db_session() as session:
        incident = _find(session, ref)
        service.add_event(session, incident=incident, kind="report-sent", text=text, actor=ACTOR, deadline=deadline)
        session.flush()
        found = {d.key: d for d in service.clocks_for(session, [incident])[incident.id]}
        out.print(f"{found[deadline].name}: {'overholdt' if found[deadline].met else 'sendt etter fristen'}")


@app.command("close")
def close(ref: str = typer.Argument(...)) -> None:
    """Close an incident (avsluttet)."""
    with db_session() as session:
        incident = _find(session, ref)
        service.update_incident(session, incident=incident, data=IncidentUpdate(status="closed"), actor=ACTOR)
        out.print(f"{incident.reference} avsluttet")
