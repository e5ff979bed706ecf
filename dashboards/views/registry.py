"""Virksomheter: the constituent registry, one constituent's details, assets (admins edit), contacts."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.auth.models import User
from certmon.auth.service import has_role, users_of_constituent
from certmon.errors import CertmonError, NotFound, ValidationFailed
from certmon.matching.service import MATCH_SORTS, list_matches
from certmon.notify.contacts import LANGUAGES, MODES, ContactIn, create_contact, delete_contact
from certmon.registry.assets import add_asset, delete_asset
from certmon.registry.models import ASSET_TYPES, KINDS, Constituent
from certmon.registry.service import get_constituent, list_constituents
from certmon.tlp import max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.formatting import tlp_of
from dashboards.queries import assets_of, contacts_of, counties, list_visible_notifications, source_titles
from dashboards.web import Admin, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
LIMIT = 50


@router.get("/virksomheter")
def constituents_page(request: Request, session: SessionDep, user: Viewer, kind: str | None = None,
                      q: str | None = None, county: str | None = None, offset: int = 0) -> Response:
    """The registry, filterable by kind, county and text, with the total."""
    kind = kind if kind in KINDS else None
    offset = max(offset, 0)
    rows, total = list_constituents(session, kind=kind, q=q or None, county=county or None, limit=LIMIT,
                                    offset=offset)
    return render(request, user, "constituents.html", rows=rows, total=total, kinds=KINDS,
                  counties=counties(session), pager=Pager(request, total, LIMIT, offset),
                  filters={"kind": kind or "", "q": q or "", "county": county or ""})


def _flags(c: Constituent, n_assets: int, n_contacts: int) -> list[str]:
    flags = []
    if c.needs_org_number or not c.org_number:
        flags.append(_("missing organisation number"))
    if n_assets == 0:
        flags.append(_("no assets registered"))
    if n_contacts == 0:
        flags.append(_("no contacts for alerts"))
    return flags


def _detail(request: Request, session: SessionDep, user: User, constituent_id: int, *,
            form: dict[str, str] | None = None, problems: list[str] | None = None,
            contact_form: dict[str, str] | None = None, contact_problems: list[str] | None = None,
            status: int = 200, **extra: Any) -> Response:
    try:
        c = get_constituent(session, constituent_id=constituent_id)
    except NotFound:
        raise PageError(404, _("No such organisation.")) from None
    ceiling = tlp_ceiling(user)
    assets, contacts = assets_of(session, constituent_id=c.id), contacts_of(session, constituent_id=c.id)
    sort = request.query_params.get("sort", "severity")
    sort = sort if sort in MATCH_SORTS else "severity"
    matches, n_matches = list_matches(session, tlp_max=int(ceiling), constituent_id=c.id, limit=50, sort=sort)
    alerts, _n = list_visible_notifications(session, ceiling=ceiling, constituent_id=c.id, limit=10)
    parent = session.get(Constituent, c.parent_id) if c.parent_id else None
    shown = [tlp_of(i.tlp) for _m, i, _c in matches] + [tlp_of(n.tlp) for n, _c in alerts]
    return render(request, user, "constituent.html", http_status=status, page_tlp=max_tlp(shown), c=c,
                  parent=parent, assets=assets, contacts=contacts, matches=matches, n_matches=n_matches,
                  alerts=alerts, flags=_flags(c, len(assets), len(contacts)), asset_types=ASSET_TYPES,
                  form=form or {}, problems=problems or [], contact_form=contact_form or {},
                  contact_problems=contact_problems or [], languages=LANGUAGES, modes=MODES,
                  contact_tlps=CONTACT_TLPS,
                  portal_users=users_of_constituent(session, c.id) if has_role(user) else [],
                  sources=source_titles(session), **extra)


@router.get("/virksomheter/{constituent_id}")
def constituent_page(request: Request, session: SessionDep, user: Viewer, constituent_id: int) -> Response:
    """Details, flags, assets, matches, contacts and recent alerts of one constituent."""
    return _detail(request, session, user, constituent_id)


@router.post("/virksomheter/{constituent_id}/ressurser", dependencies=[CsrfChecked])
def add_asset_form(
    request: Request, session: SessionDep, user: Admin, constituent_id: int,
    asset_type: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Register an asset; validation errors are shown on the page with the form filled in."""
    form = {"asset_type": asset_type, "value": value, "note": note}
    try:
        asset = add_asset(session, constituent_id=constituent_id, asset_type=asset_type, value=value,
                          note=note.strip() or None, actor=user.email)
    except NotFound:
        raise PageError(404, _("No such organisation.")) from None
    except ValidationFailed as exc:
        session.rollback()
        return _detail(request, session, user, constituent_id, form=form, problems=[exc.message], status=422)
    session.commit()
    flash(request, _("Asset %(value)s added.") % {"value": asset.value})
    return back_to(f"/virksomheter/{constituent_id}#ressurser", "/virksomheter")


@router.post("/virksomheter/{constituent_id}/ressurser/{asset_id}/slett", dependencies=[CsrfChecked])
def delete_asset_form(request: Request, session: SessionDep, user: Admin, constituent_id: int,
                      asset_id: int) -> Response:
    """Remove an asset."""
    try:
        delete_asset(session, constituent_id=constituent_id, asset_id=asset_id, actor=user.email)
    except NotFound:
        raise PageError(404, _("No such asset.")) from None
    session.commit()
    flash(request, _("Asset removed."))
    return back_to(f"/virksomheter/{constituent_id}#ressurser", "/virksomheter")


CONTACT_TLPS = ("clear", "green", "amber", "amber+strict", "red")


@router.post("/virksomheter/{constituent_id}/kontakter", dependencies=[CsrfChecked])
def add_contact_form(
    request: Request, session: SessionDep, user: Admin, constituent_id: int,
    email: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "nb", tlp_max: Annotated[str, Form()] = "amber",
    mode: Annotated[str, Form()] = "immediate",
) -> Response:
    """Add an alert recipient; validation errors are shown with the form filled in."""
    form = {"email": email, "name": name, "language": language, "tlp_max": tlp_max, "mode": mode}
    try:
        data = ContactIn(email=email, name=name.strip(), language=language, tlp_max=tlp_max, mode=mode)
        contact = create_contact(session, constituent_id=constituent_id, data=data, actor=user.email)
    except NotFound:
        raise PageError(404, _("No such organisation.")) from None
    except pydantic.ValidationError as exc:
        problems = [f"{e['loc'][0] if e['loc'] else ''}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors()]
        return _detail(request, session, user, constituent_id, contact_form=form, contact_problems=problems,
                       status=422)
    except CertmonError as exc:
        session.rollback()
        return _detail(request, session, user, constituent_id, contact_form=form,
                       contact_problems=[exc.message], status=422)
    session.commit()
    flash(request, _("Contact %(email)s added.") % {"email": contact.email})
    return back_to(f"/virksomheter/{constituent_id}#kontakter", "/virksomheter")


@router.post("/virksomheter/{constituent_id}/kontakter/{contact_id}/slett", dependencies=[CsrfChecked])
def delete_contact_form(request: Request, session: SessionDep, user: Admin, constituent_id: int,
                        contact_id: int) -> Response:
    """Remove an alert recipient (past deliveries keep the address)."""
    try:
        delete_contact(session, constituent_id=constituent_id, contact_id=contact_id, actor=user.email)
    except NotFound:
        raise PageError(404, _("No such contact.")) from None
    session.commit()
    flash(request, _("Contact removed."))
    return back_to(f"/virksomheter/{constituent_id}#kontakter", "/virksomheter")
