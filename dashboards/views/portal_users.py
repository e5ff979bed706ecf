"""Admins give an organisation's own people access to Min side: add an account (with a one-time link to
set the password, shown once), send a new link, deactivate or reactivate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.auth.invites import make_link
from certmon.auth.models import User
from certmon.auth.service import create_user, set_active
from certmon.errors import CertmonError, NotFound, ValidationFailed
from certmon.registry.service import get_constituent
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.views.registry import _detail
from dashboards.web import Admin, CsrfChecked, PageError, back_to, flash

router = APIRouter(include_in_schema=False)
PORTAL_TLPS = ("clear", "green", "amber", "amber+strict")  # never RED for an organisation's own users


def _own_user(session: SessionDep, constituent_id: int, user_id: int) -> User:
    account = session.get(User, user_id)
    if account is None or account.constituent_id != constituent_id:
        raise PageError(404, _("No such account."))
    return account


def _with_link(request: Request, session: SessionDep, admin: User, constituent_id: int, account: User,
               link: str) -> Response:
    response = _detail(request, session, admin, constituent_id, new_link={"email": account.email, "url": link})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/virksomheter/{constituent_id}/brukere", dependencies=[CsrfChecked])
def add_portal_user(request: Request, session: SessionDep, user: Admin, constituent_id: int,
                    email: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                    tlp_max: Annotated[str, Form()] = "amber") -> Response:
    """Create a Min side account for the organisation and show its one-time password link."""
    try:
        get_constituent(session, constituent_id=constituent_id)
    except NotFound:
        raise PageError(404, _("No such organisation.")) from None
    try:
        if tlp_max not in PORTAL_TLPS:
            raise ValidationFailed(f"ukjent TLP {tlp_max!r}")
        account = create_user(session, email=email, role="constituent", password=None, name=name.strip(),
                              constituent_id=constituent_id, tlp_max=tlp_max, actor=user.email)
        link = make_link(session, account, actor=user.email)
    except CertmonError as exc:
        session.rollback()
        return _detail(request, session, user, constituent_id, status=422, portal_problems=[exc.message],
                       portal_form={"email": email, "name": name, "tlp_max": tlp_max})
    session.commit()
    return _with_link(request, session, user, constituent_id, account, link)


@router.post("/virksomheter/{constituent_id}/brukere/{user_id}/lenke", dependencies=[CsrfChecked])
def new_password_link(request: Request, session: SessionDep, user: Admin, constituent_id: int,
                      user_id: int) -> Response:
    """A new one-time link (for a lost password or an expired invitation)."""
    account = _own_user(session, constituent_id, user_id)
    if not account.active:
        raise PageError(409, _("The account is deactivated. Reactivate it first."))
    link = make_link(session, account, actor=user.email)
    session.commit()
    return _with_link(request, session, user, constituent_id, account, link)


@router.post("/virksomheter/{constituent_id}/brukere/{user_id}/aktiv", dependencies=[CsrfChecked])
def set_portal_user_active(request: Request, session: SessionDep, user: Admin, constituent_id: int,
                           user_id: int, active: Annotated[str, Form()] = "0") -> Response:
    """Deactivate (`active=0`) or reactivate (`active=1`) an account."""
    account = _own_user(session, constituent_id, user_id)
    set_active(session, user_id=account.id, active=active == "1", actor=user.email)
    session.commit()
    flash(request, (_("%(email)s can sign in again.") if active == "1" else _("%(email)s can no longer sign in."))
          % {"email": account.email})
    return back_to(f"/virksomheter/{constituent_id}#brukere", "/virksomheter")
