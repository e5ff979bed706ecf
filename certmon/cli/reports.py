"""`certmon reports …`: create, list, approve and export situation reports (situasjonsbilde)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from certmon.cli.common import db_session, out
from certmon.cli.framework import CertmonTyper
from certmon.errors import CertmonError
from certmon.i18n import N_, _

app = CertmonTyper(help=N_("Situation reports (periodic reports) to the ministry."))
ACTOR = "cli"


def _report_id() -> int:
    return typer.Argument(..., metavar="REPORT_ID", help=N_("the report's id"))  # type: ignore[no-any-return]


@app.command("create")
def reports_create(
    period: str = typer.Option(..., "--period", metavar="PERIOD", help=N_(
        "2026-W47, 2026-11, 2026-T3 or 2026-11-01..2026-11-15")),
    tlp: str = typer.Option("amber", "--tlp", metavar="TLP", help=N_(
        "the highest TLP counted: clear, green, amber (amber+strict)")),
    title: str = typer.Option("", "--title", metavar="TEXT", help=N_(
        "title (default: «Situasjonsbilde <period>»)")),
) -> None:
    """Create a draft report for a period; print its id, period, TLP label and title."""
    from certmon.reports import service

    with db_session() as session:
        report = service.create_report(session, actor=ACTOR, period=period, tlp=tlp, title=title or None)
        out.print(f"{report.id}\t{report.period_key}\t{report.status}\tTLP:{report.tlp.upper()}\t{report.title}",
                  markup=False)


@app.command("list")
def reports_list(
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help=N_("at most this many")),
) -> None:
    """List reports, newest period first: id, period, status, TLP label, title."""
    from certmon.reports import service
    from certmon.tlp import TLP

    with db_session() as session:
        rows, total = service.list_reports(session, clearance=TLP.RED, limit=limit)
        for r in rows:
            out.print(f"{r.id}\t{r.period_key}\t{r.status}\tTLP:{r.tlp.upper()}\t{r.title}", markup=False)
        out.print(_("%(shown)s of %(total)s") % {"shown": len(rows), "total": total})


@app.command("approve")
def reports_approve(report_id: int = _report_id()) -> None:
    """Approve a draft: freeze its figures, HTML and PDF; print the PDF's SHA-256."""
    from certmon.reports import service
    from certmon.tlp import TLP

    with db_session() as session:
        report = service.get_report(session, report_id=report_id, clearance=TLP.RED)
        service.approve_report(session, report=report, actor=ACTOR)
        approved = _("approved")
        out.print(f"{report.id}\t{approved}\tTLP:{report.tlp.upper()}\tsha256 {report.pdf_sha256}")


@app.command("export")
def reports_export(
    report_id: int = _report_id(),
    fmt: Literal["pdf", "html"] = typer.Option("pdf", "--format", help=N_("the file format")),
    output: Path = typer.Option(..., "-o", "--output", metavar="FILE", help=N_("the file to write")),
) -> None:
    """Write a report as PDF or HTML (an approved report: exactly the archived bytes)."""
    from certmon.reports import service
    from certmon.tlp import TLP

    with db_session() as session:
        report = service.get_report(session, report_id=report_id, clearance=TLP.RED)
        document = service.rendered(session, report, pdf=fmt == "pdf")
        data = document.pdf if fmt == "pdf" else document.html.encode("utf-8")
    try:
        output.write_bytes(data or b"")
    except OSError as exc:
        raise CertmonError(f"{output}: {exc.strerror}") from None
    out.print(f"{output}\t{len(data or b'')} byte", markup=False)
