"""`certmon sources …`: list, add, run, replay and sync the source catalogue."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from certmon import plugins
from certmon.cli.common import db_session, out
from certmon.config import get_settings
from certmon.db import session_factory
from certmon.errors import CertmonError
from certmon.sources import service
from certmon.sources.schemas import SourceCreate, SourceUpdate

app = typer.Typer(help="Kilder (feeder): liste, legge til, kjøre nå, spille av på nytt.", no_args_is_help=True)


@app.command("list")
def sources_list() -> None:
    """List sources with their health."""
    with db_session() as session:
        rows, _ = service.list_sources(session, limit=1000)
        table = Table("navn", "format", "aktiv", "status", "siste vellykte", "elementer", "feil")
        for s in rows:
            status = "ok" if s.healthy else f"feiler ({s.consecutive_failures})"
            last = s.last_success_at.strftime("%Y-%m-%d %H:%M") if s.last_success_at else "aldri"
            table.add_row(s.name, s.format, "ja" if s.enabled else "nei", status, last, str(s.last_items),
                          (s.last_error or "")[:60] if not s.healthy else "")
    out.print(table)


@app.command("add")
def sources_add(
    name: str, format: str = typer.Option(..., "--format", help="rss, stix, kev, csaf, misp, …"),
    url: str = typer.Option(..., "--url"), tlp: str = typer.Option("clear", "--tlp"),
    interval: int = typer.Option(3600, "--interval", help="sekunder mellom kjøringer"),
    internal: bool = typer.Option(False, "--internal", help="kilden kan nå interne adresser"),
) -> None:
    """Add a source."""
    service.validate_format(format, plugins.feeds().FORMATS)
    data = SourceCreate(name=name, format=format, url=url, default_tlp=tlp, interval_s=interval,
                        internal=internal, title=name)
    with db_session() as session:
        service.create_source(session, data, actor="cli")
    out.print(f"kilden {name} er lagt til")


@app.command("set")
def sources_set(
    name: str, enabled: bool | None = typer.Option(None, "--enabled/--disabled"),
    interval: int | None = typer.Option(None, "--interval"), url: str | None = typer.Option(None, "--url"),
    tlp: str | None = typer.Option(None, "--tlp"),
) -> None:
    """Change a source: enable/disable, interval, URL, default TLP."""
    given = {"enabled": enabled, "interval_s": interval, "url": url, "default_tlp": tlp}
    changes = SourceUpdate.model_validate({k: v for k, v in given.items() if v is not None})
    if not changes.model_fields_set:
        raise CertmonError("ingenting å endre; se `certmon sources set --help`")
    with db_session() as session:
        source = service.get_source(session, name=name)
        service.update_source(session, source, changes, actor="cli")
    out.print(f"kilden {name} er endret")


def _print_report(report: object) -> None:
    data = asdict(report)  # type: ignore[call-overload]
    out.print(json.dumps(data, ensure_ascii=False))
    if data["outcome"] not in ("ok", "not-modified"):
        raise CertmonError(f"kilden {data['source']} feilet ({data['outcome']}): {data['error']}")


@app.command("run")
def sources_run(name: str) -> None:
    """Collect a source now (in this process) and print what was stored."""
    with db_session() as session:
        source_id = service.get_source(session, name=name).id
    _print_report(plugins.feeds().run_source(session_factory(), source_id))


@app.command("replay")
def sources_replay(name: str) -> None:
    """Run the last stored payload of a source through parsing, storage and matching again."""
    feeds = plugins.feeds()
    with db_session() as session:
        source = service.get_source(session, name=name)
        docs = [feeds.Document(service.payload_bytes(p), url=p.url, content_type=p.content_type)
                for p in service.latest_payloads(session, source)]
        source_id = source.id
    _print_report(feeds.run_source(session_factory(), source_id, documents=docs))


@app.command("sync")
def sources_sync() -> None:
    """Create or refresh the catalogue sources from feeds/sources.yaml (demo mode: bundled samples)."""
    entries = plugins.feeds().catalogue(demo=get_settings().demo)
    with db_session() as session:
        created, updated = service.sync_catalogue(session, entries)
    out.print(f"kildekatalogen: {created} nye, {updated} felt oppdatert")
