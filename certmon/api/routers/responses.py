"""The constituent's answer to an alert, from the signed link in the e-mail (no login).

GET only shows a page with a button (mail scanners and link previews follow GETs); POST records.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from certmon.api.deps import SessionDep
from certmon.errors import CertmonError
from certmon.notify.content import origin_of
from certmon.notify.links import InvalidResponseLink, verify
from certmon.notify.models import Delivery, Notification
from certmon.notify.service import get_notification, record_response

router = APIRouter(tags=["svar"])

ANSWER_TEXT = {"mottatt": "Mottatt", "utbedret": "Utbedret", "ikke-relevant": "Ikke relevant"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _error(exc: CertmonError) -> HTMLResponse:
    return _page("Lenken virker ikke", f"<p>{escape(exc.message)} Svar på e-posten i stedet.</p>", exc.status)


def _answered_by(session: SessionDep, notification_id: int, delivery_id: int | None) -> str:
    """The audit actor: the recipient whose e-mail held the link (the alert's own or its reminder's)."""
    if delivery_id is None:
        return "svar-lenke"
    delivery = session.get(Delivery, delivery_id)
    carrier = session.get(Notification, delivery.notification_id) if delivery else None
    if delivery is None or carrier is None or origin_of(session, carrier).id != notification_id:
        raise InvalidResponseLink("Lenken er ugyldig.")
    return f"svar-lenke:{delivery.email}"


@router.get("/svar/{token}", response_class=HTMLResponse)
def confirm_page(token: str, session: SessionDep) -> HTMLResponse:
    """Show what will be recorded and a button to confirm."""
    try:
        answer = verify(token)
        n = get_notification(session, notification_id=answer.notification_id)
    except CertmonError as exc:
        return _error(exc)
    text = ANSWER_TEXT[answer.answer]
    body = (
        f"<p>Varsel <strong>{escape(n.reference)}</strong>: registrer svaret «{escape(text)}»?</p>"
        f'<form method="post" action="/svar/{escape(token)}">'
        f'<button type="submit">Bekreft: {escape(text)}</button></form>'
    )
    if n.response:
        body += f"<p>Tidligere svar: {escape(ANSWER_TEXT.get(n.response, n.response))}.</p>"
    return _page(f"Svar på {n.reference}", body)


@router.post("/svar/{token}", response_class=HTMLResponse)
def record(token: str, session: SessionDep) -> HTMLResponse:
    """Record the answer on the alert and its matches (idempotent)."""
    try:
        answer = verify(token)
        actor = _answered_by(session, answer.notification_id, answer.delivery_id)
        n = record_response(session, notification_id=answer.notification_id, answer=answer.answer, actor=actor)
    except CertmonError as exc:
        return _error(exc)
    return _page(
        "Takk for svaret",
        f"<p>Vi har registrert «{escape(ANSWER_TEXT[answer.answer])}» for varsel {escape(n.reference)}.</p>",
    )
