"""Min side: a constituent's own users see their organisation's alerts, answer them, and see their assets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from certmon.auth.models import User
from certmon.auth.service import clearance
from certmon.errors import CertmonError, Forbidden, NotFound
from certmon.notify.links import ANSWERS
from certmon.portal import proposals, service
from certmon.portal.models import Proposal
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
    return _page(request, session, user, offset)


def _page(request: Request, session: SessionDep, user: User, offset: int = 0, *, status: int = 200,
          form: dict[str, str] | None = None, problems: list[str] | None = None, which: str = "") -> Response:
    offset = min(max(offset, 0), 1_000_000)
    constituent = service.own_constituent(session, user)
    alerts, total = service.list_alerts(session, user, limit=LIMIT, offset=offset)
    page_tlp = max_tlp([tlp_of(a.tlp) for a in alerts] + [tlp_of(v.tlp) for a in alerts for v in a.items])
    return render(request, user, "portal.html", page_tlp=page_tlp if alerts else TLP.CLEAR,
                  constituent=constituent, alerts=alerts, total=total, pager=Pager(request, total, LIMIT, offset),
                  summary=service.summary(session, user), assets=service.assets_of(session, user),
                  contacts=service.contacts_of(session, user), answers=ANSWERS,
                  ceiling=clearance(user), proposals=proposals.own_proposals(session, user),
                  proposable=proposals.PROPOSABLE_TYPES, form=form or {}, problems=problems or [], which=which,
                  taxii=_taxii_address(request, session, user), http_status=status)


def _taxii_address(request: Request, session: SessionDep, user: User) -> dict[str, str]:
    """What the organisation pastes into its firewall, MISP or OpenCTI: discovery URL and collection id."""
    from certmon.config import get_settings
    from certmon.taxii.service import collections_for
    from certmon.taxii.views import PREFIX

    base = get_settings().base_url.rstrip("/") or str(request.base_url).rstrip("/")
    return {"discovery": f"{base}{PREFIX}/", "collection": collections_for(session, user)[0].id}


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


def _refused(request: Request, session: SessionDep, user: User, exc: CertmonError, form: dict[str, str],
             which: str) -> Response:
    session.rollback()
    return _page(request, session, user, status=422, form=form, problems=[exc.message], which=which)


@router.post("/min-side/forslag", dependencies=[CsrfChecked])
def propose_form(request: Request, session: SessionDep, user: PortalUser,
                 kind: Annotated[str, Form()] = "", asset_type: Annotated[str, Form()] = "",
                 value: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                 name: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "nb",
                 note: Annotated[str, Form()] = "") -> Response:
    """Propose a new asset or alert recipient; a refusal is shown on the form with the reason."""
    form = {"kind": kind, "asset_type": asset_type, "value": value, "email": email, "name": name,
            "language": language, "note": note}
    try:
        if kind == "contact_add":
            made = proposals.propose_contact(session, user, email=email, name=name, language=language, note=note)
        else:
            made = proposals.propose_asset(session, user, asset_type=asset_type, value=value, note=note)
    except CertmonError as exc:
        return _refused(request, session, user, exc, form, "contact" if kind == "contact_add" else "asset")
    session.commit()
    flash(request, _("Your proposal (%(value)s) is sent to Health and Municipal CERT.") % {"value": made.value})
    return back_to("/min-side#forslag", "/min-side")


def _sent(request: Request, session: SessionDep, user: User, make: Callable[[], Proposal], missing: str,
          which: str) -> Response:
    """Make a proposal, commit and say so; a refusal is shown on Min side with the reason."""
    try:
        made = make()
    except NotFound:
        raise PageError(404, missing) from None
    except CertmonError as exc:
        return _refused(request, session, user, exc, {}, which)
    session.commit()
    flash(request, _("Your proposal (%(value)s) is sent to Health and Municipal CERT.") % {"value": made.value})
    return back_to("/min-side#forslag", "/min-side")


@router.post("/min-side/forslag/ressurs/{asset_id}/fjern", dependencies=[CsrfChecked])
def propose_asset_removal_form(request: Request, session: SessionDep, user: PortalUser, asset_id: int) -> Response:
    """Ask for one of the organisation's assets to be removed."""
    return _sent(request, session, user, lambda: proposals.propose_asset_removal(session, user, asset_id=asset_id),
                 _("No such asset."), "asset")


@router.post("/min-side/forslag/kontakt/{contact_id}/fjern", dependencies=[CsrfChecked])
def propose_contact_removal_form(request: Request, session: SessionDep, user: PortalUser,
                                 contact_id: int) -> Response:
    """Ask for an alert recipient to be removed."""
    return _sent(request, session, user,
                 lambda: proposals.propose_contact_removal(session, user, contact_id=contact_id),
                 _("No such contact."), "contact")


@router.post("/min-side/forslag/{proposal_id}/trekk", dependencies=[CsrfChecked])
def withdraw_form(request: Request, session: SessionDep, user: PortalUser, proposal_id: int) -> Response:
    """Take a pending proposal back."""
    try:
        proposals.withdraw(session, user, proposal_id=proposal_id)
    except NotFound:
        raise PageError(404, _("No such proposal.")) from None
    except CertmonError as exc:
        raise PageError(409, exc.message) from None
    session.commit()
    flash(request, _("The proposal is withdrawn."))
    return back_to("/min-side#forslag", "/min-side")
