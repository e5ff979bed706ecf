"""`certmon registry …` and `certmon assets …`: the constituent registry."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from certmon.cli.common import db_session, out, read_text
from certmon.errors import CertmonError
from certmon.registry import assets as asset_service
from certmon.registry import service
from certmon.registry.models import Asset
from certmon.registry.seed import seed_registry

app = typer.Typer(help="Virksomhetsregisteret (kommuner, fylkeskommuner, helseforetak).",
                  no_args_is_help=True)
assets_app = typer.Typer(help="Ressurser per virksomhet: nett, ASN, domener, produkter, leverandører.",
                         no_args_is_help=True)


@app.command("seed")
def registry_seed() -> None:
    """Load the bundled real registry (357 municipalities, 15 counties, health enterprises); idempotent."""
    with db_session() as session:
        report = seed_registry(session)
    out.print(f"registeret er lastet: {report.created} nye, {report.updated} oppdatert, "
              f"{report.unchanged} uendret, {report.flagged} mangler organisasjonsnummer")


@app.command("import")
def registry_import(
    file: Path = typer.Argument(..., help="CSV: org_number,name,kind[,county_number,region,website]"),
) -> None:
    """Import constituents from CSV; all or nothing, every bad row named."""
    text = read_text(file)
    with db_session() as session:
        report = service.import_constituents(session, text)
    out.print(f"importert: {report.created} nye, {report.updated} oppdatert")


@app.command("list")
def registry_list(
    kind: str | None = typer.Option(None, help="kommune, fylkeskommune, rhf, hf eller other"),
    q: str | None = typer.Option(None, help="søk i navn og nummer"),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """List constituents."""
    with db_session() as session:
        rows, total = service.list_constituents(session, kind=kind, q=q, limit=limit)
        table = Table("org.nr", "knr", "navn", "type", "fylke")
        for c in rows:
            flag = " (mangler org.nr)" if c.needs_org_number else ""
            table.add_row(c.org_number or "–", c.municipality_number or "", service.display_name(c) + flag,
                          ",".join(c.role_names), c.county_name or c.region or "")
    out.print(table)
    out.print(f"{len(rows)} av {total}")


@assets_app.command("import")
def assets_import(file: Path = typer.Argument(..., help="CSV: org_number,asset_type,value")) -> None:
    """Import assets from CSV; all or nothing, every bad row named."""
    text = read_text(file)
    with db_session() as session:
        report = asset_service.import_assets(session, text)
    out.print(f"importert: {report.created} nye ressurser ({report.updated} fantes fra før)")


@assets_app.command("list")
def assets_list(org: str = typer.Argument(..., help="organisasjonsnummer")) -> None:
    """List the assets of one constituent."""
    with db_session() as session:
        c = service.find_by_org_number(session, org)
        if c is None:
            raise CertmonError(f"fant ingen virksomhet med organisasjonsnummer {org}")
        table = Table("type", "verdi", "merknad")
        for a in session.scalars(select(Asset).where(Asset.constituent_id == c.id).order_by(Asset.type)):
            table.add_row(a.type, a.value, a.note or "")
    out.print(table)
