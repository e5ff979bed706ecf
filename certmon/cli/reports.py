"""`certmon reports …`: create, list, approve and export situation reports (situasjonsbilde)."""

from __future__ import annotations

from pathlib import Path

import typer

from certmon.cli.common import db_session, out
from certmon.errors import CertmonError
from certmon.reports import service
from certmon.tlp import TLP

app = typer.Typer(help="Situasjonsbilder (periodiske rapporter) til departementet.", no_args_is_help=True)
ACTOR = "cli"


@app.command("create")
def reports_create(
    period: str = typer.Option(..., "--period", help="2026-W47, 2026-11, 2026-T3 eller 2026-11-01..2026-11-15"),
    tlp: str = typer.Option("amber", "--tlp", help="høyeste TLP som telles: clear, green, amber (amber+strict)"),
    title: str = typer.Option("", "--title", help="tittel (standard: «Situasjonsbilde <periode>»)"),
) -> None:
    """Create a draft report for a period; print its id, period, TLP label and title."""
    with db_session() as session:
        report = service.create_report(session, actor=ACTOR, period=period, tlp=tlp, title=title or None)
        out.print(f"{report.id}\t{report.period_key}\t{report.status}\tTLP:{report.tlp.upper()}\t{report.title}")


@app.command("list")
def reports_list(limit: int = typer.Option(50, "--limit", min=1, max=1000)) -> None:
    """List reports, newest period first: id, period, status, TLP label, title."""
    with db_session() as session:
        rows, total = service.list_reports(session, clearance=TLP.RED, limit=limit)
        for r in rows:
            out.print(f"{r.id}\t{r.period_key}\t{r.status}\tTLP:{r.tlp.upper()}\t{r.title}")
        out.print(f"{len(rows)} av {total}")


@app.command("approve")
def reports_approve(report_id: int = typer.Argument(..., help="rapportens id")) -> None:
    """Approve a draft: freeze its figures, HTML and PDF; print the PDF's SHA-256."""
    with db_session() as session:
        report = service.get_report(session, report_id=report_id, clearance=TLP.RED)
        service.approve_report(session, report=report, actor=ACTOR)
        out.print(f"{report.id}\tgodkjent\tTLP:{report.tlp.upper()}\tsha256 {report.pdf_sha256}")


@app.command("export")
def reports_export(
    report_id: int = typer.Argument(..., help="rapportens id"),
    fmt: str = typer.Option("pdf", "--format", help="pdf eller html"),
    output: Path = typer.Option(..., "-o", "--output", help="filen som skrives"),
) -> None:
    """Write a report as PDF or HTML (an approved report: exactly the archived bytes)."""
    if fmt not in ("pdf", "html"):
        raise CertmonError(f"ukjent format {fmt!r}; bruk pdf eller html")
    with db_session() as session:
        report = service.get_report(session, report_id=report_id, clearance=TLP.RED)
        document = service.rendered(session, report, pdf=fmt == "pdf")
        data = document.pdf if fmt == "pdf" else document.html.encode("utf-8")
    try:
        output.write_bytes(data or b"")
    except OSError as exc:
        raise CertmonError(f"{output}: {exc.strerror}") from None
    out.print(f"{output}\t{len(data or b'')} byte")
