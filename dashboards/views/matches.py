"""Treff: the triage queue with filters, and the confirm / false positive / reopen actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.errors import NotFound, ValidationFailed
from certmon.items.models import StoredItem
from certmon.matching.models import STATUSES, Match
from certmon.matching.service import MATCH_SORTS, list_matches, triage
from certmon.tlp import max_tlp
from certmon.web.deps import SessionDep
from dashboards.formatting import LABELS, N_, tlp_of
from dashboards.formatting import gettext as _
from dashboards.queries import matched_constituents, source_titles
from dashboards.web import Analyst, CsrfChecked, PageError, Pager, Viewer, back_to, flash, render, tlp_ceiling

router = APIRouter(include_in_schema=False)
ACTIONS = {"confirm": N_("Match confirmed."), "false-positive": N_("Match marked as false positive."),
           "reopen": N_("Match reopened.")}


def _opt(value: str | None) -> str | None:
    return value or None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/treff")
def match_queue(
    request: Request, session: SessionDep, user: Viewer, status: str | None = None, rule: str | None = None,
    severity: str | None = None, constituent: str | None = None, offset: int = 0, sort: str = "severity",
) -> Response:
    """Matches, most severe first (or by time, organisation, source); by default the ones awaiting triage."""
    sort = sort if sort in MATCH_SORTS else "severity"
    ceiling = tlp_ceiling(user)
    status = "new" if status is None else status
    limit, offset = 25, max(offset, 0)
    rows, total = list_matches(
        session, tlp_max=int(ceiling), status=_opt(status if status != "all" else None), rule=_opt(rule),
        severity=_opt(severity), constituent_id=_int_or_none(constituent), limit=limit, offset=offset,
        sort=sort)
    return render(request, user, "matches.html", page_tlp=max_tlp([tlp_of(i.tlp) for _m, i, _c in rows]),
                  rows=rows, pager=Pager(request, total, limit, offset),
                  filters={"status": status, "rule": rule or "", "severity": severity or "",
                           "constituent": constituent or "", "sort": sort}, sorts=MATCH_SORTS,
                  statuses=STATUSES, rules=list(LABELS["rule"]), severities=list(LABELS["severity"]),
                  constituents=matched_constituents(session, ceiling=ceiling), sources=source_titles(session))


@router.post("/treff/{match_id}", dependencies=[CsrfChecked])
def triage_match(
    request: Request, session: SessionDep, user: Analyst, match_id: int,
    action: Annotated[str, Form()], reason: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:
    """Apply a triage action and go back to the page the analyst came from."""
    match = session.get(Match, match_id)
    item = session.get(StoredItem, match.item_id) if match else None
    if match is None or item is None or item.tlp_rank > int(tlp_ceiling(user)):
        raise PageError(404, _("No such match."))
    if action not in ACTIONS:
        raise PageError(400, _("Unknown action."))
    try:
        triage(session, match_id=match_id, action=action, actor=user.email, reason=reason.strip() or None)
    except ValidationFailed:
        flash(request, _("A false positive needs a reason."), "error")
        return back_to(next, "/treff")
    except NotFound as exc:
        raise PageError(404, exc.message) from None
    session.commit()
    flash(request, _(ACTIONS[action]))
    return back_to(next, "/treff")
