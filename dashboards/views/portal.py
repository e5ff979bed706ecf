"""Min side: a constituent's own users see their organisation's alerts, answer them, and see their assets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from certmon.auth.models import User
from certmon.auth.service import clearance
from certmon.errors import Forbidden, NotFound
from certmon.notify.links import ANSWERS
from certmon.portal import service
from certmon.tlp import TLP, max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.formatting import tlp_of
from dashboards.web import CsrfChecked, LoginRequired, PageError, Pager, back_to, flash, render, session_user

router = APIRouter(include_in_schema=False)
LIMIT = 10


def portal_user(request: Request, session: SessionDep) -> User:
    """The signed-in user of a constituent; analysts and others are sent to their own pages."""
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    if user.role != "constituent" or user.constituent_id is None:
        raise PageError(403, _("My organisation is for the organisations' own users. "
                               "Analysts find each organisation under Organisations."))
    return user


PortalUser = Annotated[User, Depends(portal_user)]


@router.get("/min-side")
def portal_page(request: Request, session: SessionDep, user: PortalUser, offset: int = 0) -> Response:
    """The organisation's alerts (newest first, with what matched and why), assets and recipients."""
    offset = min(max(offset, 0), 1_000_000)
    constituent = service.own_constituent(session, user)
    alerts, total = service.list_alerts(session, user, limit=LIMIT, offset=offset)
    page_tlp = max_tlp([tlp_of(a.tlp) for a in alerts] + [tlp_of(v.tlp) for a in alerts for v in a.items])
    return render(request, user, "portal.html", page_tlp=page_tlp if alerts else TLP.CLEAR,
                  constituent=constituent, alerts=alerts, total=total, pager=Pager(request, total, LIMIT, offset),
                  summary=service.summary(session, user), assets=service.assets_of(session, user),
                  contacts=service.contacts_of(session, user), answers=ANSWERS,
                  ceiling=clearance(user))


@router.post("/min-side/varsler/{reference}/svar", dependencies=[CsrfChecked])
def answer_form(request: Request, session: SessionDep, user: PortalUser, reference: str,
                answer: Annotated[str, Form()] = "") -> Response:
    """Record the organisation's answer to one of its alerts."""
    if answer not in ANSWERS:
        raise PageError(422, _("Choose one of the answers."))
    try:
        service.answer_alert(session, user, reference=reference, answer=answer)
    except NotFound:
        raise PageError(404, _("No such alert.")) from None
    except Forbidden as exc:
        raise PageError(403, exc.message) from None
    session.commit()
    flash(request, _("Thank you – your answer to %(ref)s is recorded.") % {"ref": reference})
    return back_to(f"/min-side#varsel-{reference}", "/min-side")
