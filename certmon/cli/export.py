"""`certmon export …`: indicator files for firewalls, SIEMs and partners, bounded by TLP."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from certmon.cli.common import constituent_id_for, db_session, out
from certmon.errors import ValidationFailed
from certmon.exports.service import DEFAULT_LIMIT, ExportQuery, export_indicators
from certmon.tlp import parse_tlp

app = typer.Typer(help="Eksport av indikatorer (CSV, JSON Lines, STIX 2.1).", no_args_is_help=True)


@app.command("indicators")
def export_indicators_cmd(
    fmt: str = typer.Option("csv", "--format", help="csv, jsonl eller stix"),
    tlp_max: str = typer.Option("clear", "--tlp-max", help="høyeste TLP i filen (standard: clear)"),
    since: datetime | None = typer.Option(None, "--since", help="bare indikatorer sett siden (ISO 8601)"),
    types: list[str] = typer.Option([], "--type", help="indikatortype (kan gjentas): ipv4, domain, url …"),
    org: str | None = typer.Option(None, "--org", help="bare det som er varslet til denne virksomheten"),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit"),
    output: Path | None = typer.Option(None, "-o", "--output", help="filen som skrives (standard: stdout)"),
) -> None:
    """Write live indicators at or below --tlp-max; the file's highest TLP is printed on stderr."""
    try:
        ceiling = parse_tlp(tlp_max)
    except ValueError:
        raise ValidationFailed(f"ukjent TLP {tlp_max!r}; gyldige: clear, green, amber, amber+strict, red") from None
    with db_session() as session:
        q = ExportQuery(tlp_max=ceiling, since=since, types=types, constituent_id=constituent_id_for(session, org),
                        limit=limit)
        export = export_indicators(session, q, fmt, actor="cli")
    if output is None:
        sys.stdout.buffer.write(export.body)
        sys.stdout.flush()
    else:
        output.write_bytes(export.body)
    message = f"{export.count} indikatorer, høyeste merking {export.tlp.label}"
    if output is not None:
        out.print(f"{message} → {output}")
    else:
        print(message, file=sys.stderr)
