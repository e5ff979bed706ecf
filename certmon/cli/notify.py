"""`certmon notify …`: deliver the alert queue now, and list alerts."""

from __future__ import annotations

from typing import Literal

import typer

from certmon.cli.common import db_session, out, session_factory
from certmon.cli.framework import CertmonTyper
from certmon.i18n import N_, _

app = CertmonTyper(help=N_("Alerts (e-mail)."))
# certmon.notify.models.STATUSES
Status = Literal["queued", "sending", "sent", "failed", "cancelled", "held", "awaiting_approval"]


@app.command("flush")
def notify_flush(
    due_only: bool = typer.Option(False, "--due-only", help=N_(
        "leave digests for their hour; immediate alerts are still sent now")),
    all_digests: bool = typer.Option(False, "--all", hidden=True, help=N_("(the default now; still accepted)")),
) -> None:
    """Deliver every queued alert now, digests included, synchronously; print what was sent."""
    from certmon.notify.deliver import deliver_due

    with db_session():
        pass  # schema check
    factory = session_factory()
    totals = {"sent": 0, "retrying": 0, "failed": 0, "cancelled": 0}
    while True:
        # immediate alerts go now even inside their grouping window; digests too unless --due-only
        report = deliver_due(factory, open_windows=True, future_digests=not due_only, limit=500)
        sent, not_sent = _("sent"), _("not sent")
        for reference, email in report.sent:
            out.print(f"{sent}\t{reference}\t{email}", markup=False)
        for reference, email, reason in report.retrying + report.failed + report.cancelled:
            out.print(f"{not_sent}\t{reference}\t{email}\t{reason}", markup=False)
        totals["sent"] += len(report.sent)
        totals["retrying"] += len(report.retrying)
        totals["failed"] += len(report.failed)
        totals["cancelled"] += len(report.cancelled)
        if not report.sent or report.rate_limited:
            if report.rate_limited:
                out.print(_("%(num)s waiting for the limit per recipient domain") % {"num": report.rate_limited})
            break
    out.print(_("%(sent)s sent, %(retrying)s to be tried again later, %(failed)s failed, %(cancelled)s cancelled")
              % totals)


@app.command("list")
def notify_list(
    status: Status | None = typer.Option(None, "--status", help=N_("only alerts with this status")),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help=N_("at most this many")),
) -> None:
    """List alerts, newest first: reference, status, TLP, mode, subject."""
    from certmon.notify.service import list_notifications

    with db_session() as session:
        rows, total = list_notifications(session, status=status, limit=limit)
        for n in rows:
            out.print(f"{n.reference}\t{n.status}\t{n.tlp}\t{n.mode}\t{n.subject}", markup=False)
        out.print(_("%(shown)s of %(total)s") % {"shown": len(rows), "total": total})
