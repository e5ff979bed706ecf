"""Utsendte varsler: alerts with recipients, status, attempts and errors; resend, four-eyes approval."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon import plugins
from certmon.errors import CertmonError, NotFound
from certmon.notify.health import outbox_health
from certmon.notify.manual import approve_manual, reject_manual
from certmon.notify.models import STATUSES, Notification
from certmon.notify.service import resend
from certmon.tlp import max_tlp
from certmon.web.deps import SENDS, SessionDep
from dashboards.formatting import LABELS, tlp_of
from dashboards.formatting import gettext as _
from dashboards.queries import deliveries_by_notification, list_visible_notifications
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
LIMIT = 20


@router.get("/utsendte-varsler")
def notifications_page(request: Request, session: SessionDep, user: Viewer, status: str | None = None,
                       ubesvart: bool = False, severity: str | None = None, offset: int = 0) -> Response:
    """Alerts, newest first, each with its recipients; `ubesvart=1` keeps the unanswered sent ones,
    `severity=critical` the critical ones."""
    offset = max(offset, 0)
    chosen = status if status in STATUSES else None
    severity = severity if severity in LABELS["severity"] else None
    rows, total = list_visible_notifications(session, ceiling=tlp_ceiling(user), status=chosen,
                                             unanswered=ubesvart, severity=severity, limit=LIMIT, offset=offset)
    deliveries = deliveries_by_notification(session, [n.id for n, _c in rows])
    return render(request, user, "notifications.html", page_tlp=max_tlp([tlp_of(n.tlp) for n, _c in rows]),
                  rows=rows, deliveries=deliveries, pager=Pager(request, total, LIMIT, offset),
                  total=total, status=chosen or "", statuses=STATUSES, unanswered=ubesvart,
                  severity=severity or "", severities=list(LABELS["severity"]), outbox=outbox_health(session))


@router.post("/utsendte-varsler/{notification_id}/send-igjen", dependencies=[CsrfChecked], openapi_extra=SENDS)
def resend_notification(request: Request, session: SessionDep, user: Analyst,
                        notification_id: int) -> Response:
    """Queue failed or cancelled recipients of an alert again and ask the workers to send it."""
    try:
        chosen = resend(session, notification_id=notification_id, user=user)
    except NotFound:
        raise PageError(404, _("No such alert.")) from None
    except CertmonError as exc:
        flash(request, exc.message, "error")
        return back_to("/utsendte-varsler", "/utsendte-varsler")
    n = session.get_one(Notification, notification_id)
    session.commit()
    _dispatch(n)
    flash(request, _("Alert %(ref)s will be sent again to %(count)d recipient(s).")
          % {"ref": n.reference, "count": len(chosen)})
    return back_to("/utsendte-varsler", "/utsendte-varsler")


@router.post("/utsendte-varsler/{notification_id}/godkjenn", dependencies=[CsrfChecked], openapi_extra=SENDS)
def approve_notification(request: Request, session: SessionDep, user: Analyst, notification_id: int) -> Response:
    """A second analyst releases a hand-sent TLP:RED alert (four eyes)."""
    try:
        n = approve_manual(session, notification_id=notification_id, approver=user)
    except NotFound:
        raise PageError(404, _("No such alert.")) from None
    except CertmonError as exc:
        flash(request, exc.message, "error")
        return back_to("/utsendte-varsler", "/utsendte-varsler")
    session.commit()
    _dispatch(n)
    flash(request, _("Alert %(ref)s is approved and will be sent.") % {"ref": n.reference})
    return back_to("/utsendte-varsler", "/utsendte-varsler")


@router.post("/utsendte-varsler/{notification_id}/avvis", dependencies=[CsrfChecked])
def reject_notification(request: Request, session: SessionDep, user: Analyst, notification_id: int,
                        reason: Annotated[str, Form()] = "") -> Response:
    """Turn down (or withdraw) a hand-sent alert awaiting approval."""
    try:
        n = reject_manual(session, notification_id=notification_id, user=user, reason=reason.strip()[:500])
    except NotFound:
        raise PageError(404, _("No such alert.")) from None
    except CertmonError as exc:
        flash(request, exc.message, "error")
        return back_to("/utsendte-varsler", "/utsendte-varsler")
    session.commit()
    flash(request, _("Alert %(ref)s is turned down and will not be sent.") % {"ref": n.reference})
    return back_to("/utsendte-varsler", "/utsendte-varsler")


def _dispatch(n: Notification) -> None:
    try:
        plugins.require("workers").dispatch_send([n.id])
    except Exception as exc:  # the periodic delivery task picks it up anyway
        log.warning("could not queue delivery of %s: %s", n.reference, exc)
