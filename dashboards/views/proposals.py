"""Forslag: the analysts' queue of registry changes that organisations propose on Min side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.errors import CertmonError, NotFound
from certmon.portal import proposals
from certmon.portal.models import PROPOSAL_STATUSES
from certmon.web.deps import SessionDep
from dashboards.formatting import gettext as _
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render

router = APIRouter(include_in_schema=False)
LIMIT = 50
CONTACT_TLPS = ("clear", "green", "amber", "amber+strict")


@router.get("/forslag")
def proposals_page(request: Request, session: SessionDep, user: Viewer, status: str = "pending",
                   offset: int = 0) -> Response:
    """Pending proposals (oldest first), or the decided ones, with whose assets a new one would overlap."""
    status = status if status in PROPOSAL_STATUSES else "pending"
    offset = min(max(offset, 0), 1_000_000)
    rows, total = proposals.queue(session, status=status, limit=LIMIT, offset=offset)
    overlaps = {p.id: proposals.clashes(session, p.asset_type or "", p.value, p.constituent_id)
                for p, _c in rows if p.kind == "asset_add" and p.status == "pending"}
    return render(request, user, "proposals.html", rows=rows, total=total, status=status,
                  statuses=PROPOSAL_STATUSES, overlaps=overlaps, contact_tlps=CONTACT_TLPS,
                  pager=Pager(request, total, LIMIT, offset))


@router.post("/forslag/{proposal_id}/godkjenn", dependencies=[CsrfChecked])
def approve_form(request: Request, session: SessionDep, user: Analyst, proposal_id: int,
                 tlp_max: Annotated[str, Form()] = "amber", mode: Annotated[str, Form()] = "immediate") -> Response:
    """Apply the change; an asset change re-matches the history at once."""
    if tlp_max not in CONTACT_TLPS or mode not in ("immediate", "digest"):
        raise PageError(422, _("Choose a TLP clearance and a mode for the new recipient."))
    try:
        done = proposals.approve(session, proposal_id=proposal_id, actor=user.email, tlp_max=tlp_max, mode=mode)
    except NotFound:
        raise PageError(404, _("No such proposal.")) from None
    except CertmonError as exc:
        session.rollback()
        flash(request, _("The proposal could not be applied: %(why)s") % {"why": exc.message}, "error")
        return back_to("/forslag", "/forslag")
    session.commit()
    if done.kind.startswith("asset"):
        proposals.rematch_soon(session)
    flash(request, _("Approved: %(value)s. The organisation sees the decision on Min side.") % {"value": done.value})
    return back_to("/forslag", "/forslag")


@router.post("/forslag/{proposal_id}/avvis", dependencies=[CsrfChecked])
def reject_form(request: Request, session: SessionDep, user: Analyst, proposal_id: int,
                reason: Annotated[str, Form()] = "") -> Response:
    """Turn the proposal down with a reason the organisation reads on Min side."""
    try:
        done = proposals.reject(session, proposal_id=proposal_id, actor=user.email, reason=reason)
    except NotFound:
        raise PageError(404, _("No such proposal.")) from None
    except CertmonError as exc:
        session.rollback()
        flash(request, _("The proposal was not rejected: %(why)s") % {"why": exc.message}, "error")
        return back_to("/forslag", "/forslag")
    session.commit()
    flash(request, _("Rejected: %(value)s. The organisation sees your reason on Min side.") % {"value": done.value})
    return back_to("/forslag", "/forslag")
