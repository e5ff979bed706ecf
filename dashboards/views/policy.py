"""Varslingsregler: the alert policy for admins — when alerts leave (the leading edge, the grouping
window) and which matches alert at all. The same document as `GET/PUT /api/v1/alert-policy`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certmon.errors import ValidationFailed
from certmon.notify.policy import NEVER, RULES, SEVERITIES, load_policy, parse_policy, save_policy
from certmon.tlp import TLP
from certmon.web.deps import SessionDep
from dashboards.formatting import N_
from dashboards.formatting import gettext as _
from dashboards.web import Admin, CsrfChecked, back_to, flash, render

router = APIRouter(include_in_schema=False)
AUTO_TLPS = [t.value_str for t in TLP if t != TLP.RED]
FIELD_LABELS = {
    "at_once_min_severity": N_("Send at once from severity"),
    "at_once_known_exploited": N_("Known exploited vulnerabilities at once"),
    "window_minutes": N_("Grouping window (minutes)"),
    "auto_rules": N_("Rules that alert without an analyst"),
    "min_confidence": N_("Lowest confidence"),
    "max_tlp": N_("Highest TLP sent automatically"),
    "min_severity": N_("Lowest severity alerted"),
    "digest_time": N_("Digest time"),
    "reminder_after_hours": N_("Remind unanswered alerts after (hours)"),
    "reminder_min_severity": N_("Remind from severity"),
}


def _page(request: Request, user: Any, policy: dict[str, Any], problems: list[str], status: int = 200) -> Response:
    return render(request, user, "policy.html", http_status=status, policy=policy, problems=problems,
                  severities=SEVERITIES, never=NEVER, rules=RULES, tlps=AUTO_TLPS, labels=FIELD_LABELS)


@router.get("/varslingsregler")
def policy_page(request: Request, session: SessionDep, user: Admin) -> Response:
    """The alert policy in force, as an editable form."""
    return _page(request, user, load_policy(session).model_dump(), [])


Text = Annotated[str, Form()]


@router.post("/varslingsregler", dependencies=[CsrfChecked])
def save_policy_form(
    request: Request, session: SessionDep, user: Admin, at_once_min_severity: Text = "",
    at_once_known_exploited: Text = "", window_minutes: Text = "", min_confidence: Text = "",
    max_tlp: Text = "", min_severity: Text = "", digest_time: Text = "", reminder_after_hours: Text = "",
    reminder_min_severity: Text = "", auto_rules: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Validate and store the policy (audited); every bad field is named beside the form."""
    data: dict[str, Any] = {
        "at_once_min_severity": at_once_min_severity, "at_once_known_exploited": at_once_known_exploited == "1",
        "window_minutes": window_minutes.strip(), "min_confidence": min_confidence.strip(), "max_tlp": max_tlp,
        "min_severity": min_severity, "digest_time": digest_time.strip(),
        "reminder_after_hours": reminder_after_hours.strip(), "reminder_min_severity": reminder_min_severity,
        "auto_rules": auto_rules or [],
    }
    try:
        policy = parse_policy(data)
    except ValidationFailed as exc:
        problems = []
        for problem in exc.problems:
            name, _sep, message = problem.partition(": ")
            field = name.split(".")[0]
            problems.append(f"{_(FIELD_LABELS[field]) if field in FIELD_LABELS else name}: {message}")
        return _page(request, user, data, problems, status=422)
    save_policy(session, policy, actor=user.email)
    session.commit()
    flash(request, _("The alert policy is saved. It applies to matches made from now on."))
    return back_to("/varslingsregler", "/varslingsregler")
