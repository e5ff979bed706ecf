"""The constituent's answer to an alert, from the signed link in the e-mail (no login).

GET only shows a page with a button (mail scanners and link previews follow GETs); POST records.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from certmon.config import get_settings
from certmon.errors import CertmonError
from certmon.i18n import LANGUAGES
from certmon.notify.compose import render_page
from certmon.notify.content import origin_of
from certmon.notify.links import InvalidResponseLink, verify
from certmon.notify.models import Delivery, Notification
from certmon.notify.service import get_notification, record_response
from certmon.tlp import TLP, parse_tlp
from certmon.web.deps import SessionDep, errors

router = APIRouter(tags=["svar"])


def _page(state: str, *, lang: str = "nb", status: int = 200, **values: object) -> HTMLResponse:
    """The answer page in the recipient's language, styled like the product (name, TLP, demo ribbon)."""
    lang = lang if lang in LANGUAGES else "nb"
    nonce = secrets.token_urlsafe(16)  # the page's one inline style block; nothing else may load
    context = {"lang": lang, "state": state, "demo": get_settings().demo, "tlp_label": "", "tlp_word": "",
               "reference": "", "answer": "", "previous": None, "token": "", "message": "", "nonce": nonce,
               **values}
    html = render_page(f"{lang}/answer.html", context)
    csp = (f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; "
           "base-uri 'none'")
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                           "Content-Security-Policy": csp})


def _error(exc: CertmonError) -> HTMLResponse:
    return _page("error", message=exc.message, status=exc.status)


def _recipient(session: SessionDep, delivery_id: int | None) -> dict[str, Any]:
    """The language and TLP of what the recipient got (the alert's own label for old links)."""
    delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
    if delivery is None:
        return {"lang": "nb"}
    tlp = parse_tlp(delivery.tlp, TLP.CLEAR)
    return {"lang": delivery.language, "tlp_label": tlp.label, "tlp_word": tlp.value_str}


def _answered_by(session: SessionDep, notification_id: int, delivery_id: int | None) -> str:
    """The audit actor: the recipient whose e-mail held the link (the alert's own or its reminder's)."""
    if delivery_id is None:
        return "svar-lenke"
    delivery = session.get(Delivery, delivery_id)
    carrier = session.get(Notification, delivery.notification_id) if delivery else None
    if delivery is None or carrier is None or origin_of(session, carrier).id != notification_id:
        raise InvalidResponseLink("Lenken er ugyldig.")
    return f"svar-lenke:{delivery.email}"


@router.get("/svar/{token}", response_class=HTMLResponse, responses=errors(400))
def confirm_page(token: str, session: SessionDep) -> HTMLResponse:
    """Show what will be recorded (and what is stored now) and a button to confirm."""
    try:
        answer = verify(token)
        n = get_notification(session, notification_id=answer.notification_id)
    except CertmonError as exc:
        return _error(exc)
    return _page("confirm", **_recipient(session, answer.delivery_id), reference=n.reference,
                 answer=answer.answer, previous=origin_of(session, n).response, token=token)


@router.post("/svar/{token}", response_class=HTMLResponse, responses=errors(400))
def record(token: str, session: SessionDep) -> HTMLResponse:
    """Record the answer on the alert and its matches (idempotent); say which answer is now stored."""
    try:
        answer = verify(token)
        actor = _answered_by(session, answer.notification_id, answer.delivery_id)
        previous = origin_of(session, get_notification(session, notification_id=answer.notification_id)).response
        n = record_response(session, notification_id=answer.notification_id, answer=answer.answer, actor=actor)
    except CertmonError as exc:
        return _error(exc)
    return _page("recorded", **_recipient(session, answer.delivery_id), reference=n.reference,
                 answer=n.response or answer.answer, previous=previous)
