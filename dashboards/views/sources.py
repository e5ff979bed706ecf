"""Kilder: every source with its health; run now (analysts), enable or disable (admins)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from certmon import plugins
from certmon.db import utcnow
from certmon.errors import CertmonError
from certmon.sources.models import Source
from certmon.sources.schemas import SourceUpdate
from certmon.sources.service import get_source, list_sources, update_source
from certmon.web.deps import SessionDep
from dashboards.formatting import N_
from dashboards.formatting import gettext as _
from dashboards.queries import source_notes
from dashboards.web import Admin, Analyst, CsrfChecked, PageError, Viewer, back_to, flash, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


@router.get("/kilder")
def sources_page(request: Request, session: SessionDep, user: Viewer) -> Response:
    """Sources with last success, last error and its reason, failures in a row, items and duration."""
    rows, total = list_sources(session, limit=500)
    unhealthy = [s for s in rows if s.enabled and not s.healthy]
    return render(request, user, "sources.html", rows=rows, total=total, unhealthy=len(unhealthy),
                  notes=source_notes(session, rows), now=utcnow(), plain=PLAIN_OUTCOME)


# what each failed outcome means, for people (the technical reason is shown beside it)
PLAIN_OUTCOME = {
    "unavailable": N_("The source did not answer, or answered with an error: the network, the server or the "
                      "address may be down or wrong. certmon tries again at the next run."),
    "blocked": N_("certmon refused to fetch the address, because it points to an internal or forbidden network "
                  "or uses a scheme that is not allowed."),
    "too-large": N_("The answer was larger than the size limit (CERTMON_FETCH_MAX_BYTES)."),
    "parse-error": N_("The answer arrived but could not be read as the source's format; nothing from it was "
                      "stored. The provider may have changed the format."),
    "error": N_("An unexpected error stopped the run; nothing from it was stored."),
}


def _source_or_404(session: Session, source_id: int) -> Source:
    try:
        return get_source(session, source_id=source_id)
    except CertmonError:
        raise PageError(404, _("No such source.")) from None


@router.post("/kilder/{source_id}/kjor", dependencies=[CsrfChecked])
def run_now(request: Request, session: SessionDep, user: Analyst, source_id: int) -> Response:
    """Queue a collection of the source now."""
    source = _source_or_404(session, source_id)
    try:
        plugins.require("workers").dispatch_collect(source.id)
    except Exception as exc:  # the broker may be down; tell the analyst instead of failing the page
        log.warning("could not queue collection of %s: %s", source.name, exc)
        flash(request, _("Could not queue the run of %(name)s: %(reason)s")
              % {"name": source.title or source.name, "reason": str(exc)[:200]}, "error")
    else:
        flash(request, _("The run of %(name)s is queued. Reload the page in a moment to see the result.")
              % {"name": source.title or source.name})
    return back_to("/kilder", "/kilder")


@router.post("/kilder/{source_id}/aktiv", dependencies=[CsrfChecked])
def set_enabled(request: Request, session: SessionDep, user: Admin, source_id: int,
                enabled: Annotated[str, Form()]) -> Response:
    """Enable (`enabled=1`) or disable (`enabled=0`) a source."""
    source = _source_or_404(session, source_id)
    on = enabled == "1"
    update_source(session, source, SourceUpdate(enabled=on), actor=user.email)
    session.commit()
    message = _("%(name)s is enabled.") if on else _("%(name)s is disabled.")
    flash(request, message % {"name": source.title or source.name})
    return back_to("/kilder", "/kilder")
