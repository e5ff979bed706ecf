"""`certmon parse`, `match`, `ingest`, `advisories list`, `rematch`: items in and out."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from certmon import plugins
from certmon.cli.common import db_session, ensure_schema, err, out, read_bytes, read_text
from certmon.db import session_factory
from certmon.errors import CertmonError
from certmon.items.schemas import item_from_dict, item_to_json
from certmon.items.service import list_items
from certmon.matching.service import engine_for, rematch_if_changed
from certmon.sources import service as sources
from certmon.tlp import TLP, parse_tlp

advisories_app = typer.Typer(help="Sikkerhetsvarsler (advisories).", no_args_is_help=True)


def parse(
    file: Path = typer.Argument(..., help="filen (eller mappen, for misp-feed med manifest)"),
    format: str = typer.Option("auto", "--format", "-f", help="rss, stix, kev, csaf, misp, feodo, urlhaus, "
                               "threatfox, shadowserver, suricata eller auto"),
    tlp: str = typer.Option("clear", "--tlp", help="TLP når kilden ikke oppgir noen"),
) -> None:
    """Parse one file offline and print normalised items as JSON Lines."""
    feeds = plugins.feeds()
    from feeds.base import ParseContext

    try:
        default_tlp = parse_tlp(tlp)
    except ValueError as exc:
        raise CertmonError(f"--tlp: {exc}") from None
    ctx = ParseContext(default_tlp=default_tlp, filename=file.name)
    if file.is_dir():
        from feeds.misp import parse_folder

        items = list(parse_folder(file, ctx))
    else:
        data = read_bytes(file)
        fmt = feeds.detect_format(data, file.name) if format == "auto" else format
        if fmt not in feeds.FORMATS:
            raise CertmonError(f"ukjent format {fmt!r}; støttede: {', '.join(sorted(feeds.FORMATS))}")
        items = feeds.parse_bytes(data, fmt, ctx)
    write = sys.stdout.buffer.write
    for item in items:
        write(item_to_json(item) + b"\n")


def match(file: Path = typer.Argument(..., help="JSON Lines i formatet fra `certmon parse`")) -> None:
    """Match items against the registry in the database; print matches as JSON Lines."""
    lines = read_text(file).splitlines()
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(item_from_dict(msgspec.json.decode(line)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CertmonError(f"{file}, linje {n}: {exc}") from None
    with db_session() as session:
        engine = engine_for(session)
    encoder = msgspec.json.Encoder()
    for result in engine.match_many(items):
        record = {"item_key": result.item_key, "org_number": result.org_number, "rule": result.rule,
                  "asset": result.asset, "confidence": result.confidence, "explanation": result.explanation}
        if result.status is not None:  # product matches: affected | under_investigation
            record["status"] = result.status
        sys.stdout.buffer.write(encoder.encode(record) + b"\n")


def ingest(
    file: Path = typer.Argument(...), source: str = typer.Option(..., "--source", help="kildens navn"),
) -> None:
    """Run a file through the full pipeline as if the source had served it (store, match, queue alerts)."""
    feeds = plugins.feeds()
    data = read_bytes(file)
    with db_session() as session:
        source_id = sources.get_source(session, name=source).id
    report = feeds.run_source(session_factory(), source_id, documents=[feeds.Document(data, file.name)])
    out.print(msgspec.json.encode(report.__dict__).decode())
    if report.outcome != "ok":
        raise CertmonError(f"{file}: {report.error}")


def rematch() -> None:
    """Re-match every stored item against the current registry (adds new, retires stale, queues alerts)."""
    ensure_schema()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("matcher på nytt", total=None)
        run = rematch_if_changed(session_factory(), force=True, progress=lambda done, total: progress.update(
            task, completed=done, total=total))
    assert run is not None
    out.print(f"nye treff: {len(run.new_ids)}, oppdatert: {run.updated}, trukket tilbake: {run.retired}")


@advisories_app.command("list")
def advisories_list(limit: int = typer.Option(20, min=1, max=500), q: str | None = None) -> None:
    """List the newest advisories."""
    with db_session() as session:
        rows, total = list_items(session, kinds=("advisory",), tlp_max=TLP.RED, limit=limit, q=q)
        table = Table("publisert", "TLP", "tittel", "CVE")
        for item in rows:
            when = item.published_at.strftime("%Y-%m-%d") if item.published_at else ""
            cves = ", ".join(item.data.get("cves", [])[:3])
            table.add_row(when, item.tlp.upper(), item.title or item.key, cves)
    out.print(table)
    out.print(f"{len(rows)} av {total}")
