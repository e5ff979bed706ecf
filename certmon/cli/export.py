"""`certmon export …`: indicator files for firewalls, SIEMs and partners, bounded by TLP."""

from __future__ import annotations

import enum
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal

import typer

from certmon.cli.common import constituent_id_for, db_session, out
from certmon.cli.framework import CertmonTyper
from certmon.errors import ValidationFailed
from certmon.i18n import N_, _, count

app = CertmonTyper(help=N_("Indicator exports (CSV, JSON Lines, STIX 2.1)."))
# as in certmon.exports.service (FORMATS, INDICATOR_TYPES, DEFAULT_LIMIT, MAX_LIMIT; a test keeps them equal)
Format = Literal["csv", "jsonl", "stix"]
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 50_000


class IndicatorType(enum.StrEnum):
    """Indicator types (Typer takes a list of an Enum, not of a Literal)."""

    ipv4 = "ipv4"
    ipv6 = "ipv6"
    cidr = "cidr"
    domain = "domain"
    url = "url"
    email = "email"
    md5 = "md5"
    sha1 = "sha1"
    sha256 = "sha256"
    asn = "asn"


@app.command("indicators")
def export_indicators_cmd(
    fmt: Format = typer.Option("csv", "--format", help=N_("the file format")),
    tlp_max: str = typer.Option("clear", "--tlp-max", metavar="TLP", help=N_("the highest TLP in the file")),
    since: datetime | None = typer.Option(None, "--since", help=N_("only indicators seen since then (ISO 8601)")),
    types: list[IndicatorType] = typer.Option([], "--type", help=N_("indicator type")),
    org: str | None = typer.Option(None, "--org", metavar="ORG_NUMBER", help=N_(
        "only what was alerted to this organisation")),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", min=1, max=MAX_LIMIT, help=N_("at most this many")),
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE", help=N_(
        "the file to write (default: stdout)")),
) -> None:
    """Write live indicators at or below --tlp-max; the file's highest TLP is printed on stderr."""
    from certmon.exports.service import ExportQuery, export_indicators
    from certmon.tlp import parse_tlp

    try:
        ceiling = parse_tlp(tlp_max)
    except ValueError:
        raise ValidationFailed(f"ukjent TLP {tlp_max!r}; gyldige: clear, green, amber, amber+strict, red") from None
    with db_session() as session:
        q = ExportQuery(tlp_max=ceiling, since=since, types=[t.value for t in types], limit=limit,
                        constituent_id=constituent_id_for(session, org))
        export = export_indicators(session, q, fmt, actor="cli")
    if output is None:
        sys.stdout.buffer.write(export.body)
        sys.stdout.flush()
    else:
        output.write_bytes(export.body)
    message = _("%(indicators)s, highest marking %(label)s") % {
        "indicators": count("%(num)s indicator", "%(num)s indicators", export.count), "label": export.tlp.label}
    if output is not None:
        out.print(f"{message} → {output}", markup=False)
    else:
        print(message, file=sys.stderr)
