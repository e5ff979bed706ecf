"""`certmon notify …`: deliver the alert queue now, and list alerts."""

from __future__ import annotations

import typer

from certmon.cli.common import db_session, out
from certmon.db import session_factory
from certmon.notify.deliver import deliver_due
from certmon.notify.service import list_notifications

app = typer.Typer(help="Varsler (e-post).", no_args_is_help=True)


@app.command("flush")
def notify_flush(
    due_only: bool = typer.Option(False, "--due-only", help="la samlevarsler vente til klokkeslettet sitt; "
                                  "straksvarsler sendes likevel nå"),
    all_digests: bool = typer.Option(False, "--all", hidden=True, help="(standard nå; godtas fortsatt)"),
) -> None:
    """Deliver every queued alert now, digests included, synchronously; print what was sent."""
    with db_session():
        pass  # schema check
    factory = session_factory()
    totals = {"sent": 0, "retrying": 0, "failed": 0, "cancelled": 0}
    while True:
        # immediate alerts go now even inside their grouping window; digests too unless --due-only
        report = deliver_due(factory, open_windows=True, future_digests=not due_only, limit=500)
        for reference, email in report.sent:
            out.print(f"sendt\t{reference}\t{email}")
        for reference, email, reason in report.retrying + report.failed + report.cancelled:
            out.print(f"ikke sendt\t{reference}\t{email}\t{reason}")
        totals["sent"] += len(report.sent)
        totals["retrying"] += len(report.retrying)
        totals["failed"] += len(report.failed)
        totals["cancelled"] += len(report.cancelled)
        if not report.sent or report.rate_limited:
            if report.rate_limited:
                out.print(f"{report.rate_limited} venter på grunn av grensen per mottakerdomene")
            break
    out.print(
        f"{totals['sent']} sendt, {totals['retrying']} prøves igjen senere, "
        f"{totals['failed']} feilet, {totals['cancelled']} avbrutt"
    )


@app.command("list")
def notify_list(
    status: str = typer.Option("", "--status", help="queued, sending, sent, failed, cancelled, held"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """List alerts, newest first: reference, status, TLP, mode, subject."""
    with db_session() as session:
        rows, total = list_notifications(session, status=status or None, limit=limit)
        for n in rows:
            out.print(f"{n.reference}\t{n.status}\t{n.tlp}\t{n.mode}\t{n.subject}")
        out.print(f"{len(rows)} av {total}")
