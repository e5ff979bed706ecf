"""Utsendte varsler: alerts with recipients, status, attempts and errors; resend (analysts)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certmon import plugins
from certmon.api.deps import SessionDep
from certmon.errors import CertmonError
from certmon.notify.models import STATUSES, Notification
from certmon.notify.service import resend
from certmon.tlp import max_tlp
from dashboards.formatting import gettext as _
from dashboards.formatting import tlp_of
from dashboards.queries import deliveries_by_notification, list_visible_notifications
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
LIMIT = 20


@router.get("/utsendte-varsler")
def notifications_page(request: Request, session: SessionDep, user: Viewer, status: str | None = None,
                       ubesvart: bool = False, offset: int = 0) -> Response:
    """Alerts, newest first, each with its recipients; `ubesvart=1` keeps the unanswered sent ones."""
    offset = max(offset, 0)
    chosen = status if status in STATUSES else None
    rows, total = list_visible_notifications(session, ceiling=tlp_ceiling(user), status=chosen,
                                             unanswered=ubesvart, limit=LIMIT, offset=offset)
    deliveries = deliveries_by_notification(session, [n.id for n, _c in rows])
    return render(request, user, "notifications.html", page_tlp=max_tlp([tlp_of(n.tlp) for n, _c in rows]),
                  rows=rows, deliveries=deliveries, pager=Pager(request, total, LIMIT, offset),
                  total=total, status=chosen or "", statuses=STATUSES, unanswered=ubesvart)


@router.post("/utsendte-varsler/{notification_id}/send-igjen", dependencies=[CsrfChecked])
def resend_notification(request: Request, session: SessionDep, user: Analyst,
                        notification_id: int) -> Response:
    """Queue failed or cancelled recipients of an alert again and ask the workers to send it."""
    n = session.get(Notification, notification_id)
    if n is None or tlp_of(n.tlp) > tlp_ceiling(user):
        raise PageError(404, _("No such alert."))
    try:
        chosen = resend(session, notification_id=n.id, actor=user.email)
    except CertmonError as exc:
        flash(request, exc.message, "error")
        return back_to("/utsendte-varsler", "/utsendte-varsler")
    session.commit()
    try:
        plugins.require("workers").dispatch_send([n.id])
    except Exception as exc:  # the periodic delivery task picks it up anyway
        log.warning("could not queue delivery of %s: %s", n.reference, exc)
    flash(request, _("Alert %(ref)s will be sent again to %(count)d recipient(s).")
          % {"ref": n.reference, "count": len(chosen)})
    return back_to("/utsendte-varsler", "/utsendte-varsler")
