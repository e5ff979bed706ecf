"""`certmon registry …` and `certmon assets …`: the constituent registry."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from certmon.cli.common import db_session, out, print_columns, read_text
from certmon.cli.framework import CertmonTyper, existing_path
from certmon.errors import NotFound
from certmon.i18n import N_, _, count

app = CertmonTyper(help=N_("The constituent registry (municipalities, county municipalities, health enterprises)."))
assets_app = CertmonTyper(help=N_("Assets per organisation: networks, AS numbers, domains, products, suppliers."))
Kind = Literal["kommune", "fylkeskommune", "rhf", "hf", "other"]


@app.command("seed")
def registry_seed() -> None:
    """Load the bundled real registry (357 municipalities, 15 counties, health enterprises); idempotent."""
    from certmon.registry.seed import seed_registry

    with db_session() as session:
        report = seed_registry(session)
    parts = [count("%(num)s new organisation", "%(num)s new organisations", report.created),
             _("%(num)s updated") % {"num": report.updated}, _("%(num)s unchanged") % {"num": report.unchanged},
             _("%(num)s without an organisation number") % {"num": report.flagged}]
    out.print(_("the registry is loaded: %(parts)s") % {"parts": ", ".join(parts)})


@app.command("import")
def registry_import(
    file: Path = typer.Argument(..., help=N_("CSV: org_number,name,kind[,county_number,region,website]"),
                                callback=existing_path),
) -> None:
    """Import constituents from CSV; all or nothing, every bad row named."""
    from certmon.registry import service

    text = read_text(file)
    with db_session() as session:
        report = service.import_constituents(session, text)
    out.print(_("imported: %(parts)s") % {"parts": ", ".join([
        count("%(num)s new organisation", "%(num)s new organisations", report.created),
        _("%(num)s updated") % {"num": report.updated}])})


@app.command("list")
def registry_list(
    kind: Kind | None = typer.Option(None, "--kind", help=N_("only this kind of organisation")),
    q: str | None = typer.Option(None, "--q", help=N_("search in names and numbers")),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help=N_("at most this many")),
) -> None:
    """List constituents."""
    from certmon.registry import service

    with db_session() as session:
        rows, total = service.list_constituents(session, kind=kind, q=q, limit=limit)
        table = [(c.org_number or "–", c.municipality_number or "", ",".join(c.role_names),
                  c.county_name or c.region or "",
                  service.display_name(c) + (" " + _("(no organisation number)") if c.needs_org_number else ""))
                 for c in rows]
    print_columns((_("org. no."), _("mun. no."), _("kind"), _("county"), _("name")), table)
    out.print(_("%(shown)s of %(total)s") % {"shown": len(rows), "total": total})


@assets_app.command("import")
def assets_import(
    file: Path = typer.Argument(..., help=N_("CSV: org_number,asset_type,value"), callback=existing_path),
) -> None:
    """Import assets from CSV; all or nothing, every bad row named."""
    from certmon.registry import assets as asset_service

    text = read_text(file)
    with db_session() as session:
        report = asset_service.import_assets(session, text)
    out.print(_("imported: %(parts)s") % {"parts": ", ".join([
        count("%(num)s new asset", "%(num)s new assets", report.created),
        _("%(num)s already there") % {"num": report.updated}])})


@assets_app.command("list")
def assets_list(org: str = typer.Argument(..., metavar="ORG_NUMBER", help=N_("the organisation number"))) -> None:
    """List the assets of one constituent."""
    from sqlalchemy import select

    from certmon.registry import service
    from certmon.registry.models import Asset

    with db_session() as session:
        c = service.find_by_org_number(session, org)
        if c is None:
            raise NotFound(_("found no organisation with organisation number %(org)s") % {"org": org})
        rows = [(a.type, a.value, a.note or "") for a in
                session.scalars(select(Asset).where(Asset.constituent_id == c.id).order_by(Asset.type))]
    print_columns((_("type"), _("value"), _("note")), rows)
