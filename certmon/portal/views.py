"""API: the analysts' queue of registry changes proposed by constituents (`/api/v1/proposals`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from certmon.auth.service import hidden_address, may_see_contacts
from certmon.portal import proposals
from certmon.portal.schemas import ProposalRead
from certmon.web.deps import Analyst, DbId, PageDep, Reader, SessionDep

router = APIRouter(prefix="/api/v1/proposals", tags=["virksomheter"])


class QueuedProposal(ProposalRead):
    """A proposal with its organisation and, for a new asset, whose assets it would overlap."""

    constituent_id: int
    constituent: str
    target_id: int | None
    decided_by: str | None
    detail: dict[str, str] = Field(default_factory=dict, description="A proposed contact's name and language.")


class ProposalPage(BaseModel):
    items: list[QueuedProposal]
    total: int


class ApproveBody(BaseModel):
    """For a new contact: the TLP clearance and mode the CERT gives it (the organisation does not choose)."""

    model_config = ConfigDict(extra="forbid")

    tlp_max: Literal["clear", "green", "amber", "amber+strict"] = "amber"
    mode: Literal["immediate", "digest"] = "immediate"


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Shown to the organisation on Min side.")


def _row(p: proposals.Proposal, name: str, *, show_people: bool = True) -> QueuedProposal:
    row = QueuedProposal.model_validate({**ProposalRead.model_validate(p).model_dump(), "constituent_id":
                                         p.constituent_id, "constituent": name, "target_id": p.target_id,
                                         "decided_by": p.decided_by,
                                         "detail": {k: str(v) for k, v in (p.detail or {}).items()}})
    return row if show_people else _without_people(row)


def _without_people(row: QueuedProposal) -> QueuedProposal:
    """The row as a reader may see it (docs/security.md, "Contact addresses"): a proposed or removed
    recipient's address and name, and the proposer's address, show only the organisation's domain."""
    value = hidden_address(row.value) if row.kind.startswith("contact") else row.value
    detail = {k: v for k, v in row.detail.items() if k != "name"}
    return row.model_copy(update={"value": value, "detail": detail, "proposed_by": hidden_address(row.proposed_by)})


@router.get("", response_model=ProposalPage)
def list_proposals(
    session: SessionDep, user: Reader, page: PageDep,
    status: Annotated[Literal["pending", "approved", "rejected", "withdrawn"] | None,
                      Query(description="default: pending")] = "pending",
) -> ProposalPage:
    """Proposals from the organisations, oldest pending first; readers see a recipient's address and the
    proposer's only as the organisation's domain, and no name."""
    from certmon.registry.service import display_name

    rows, total = proposals.queue(session, status=status, limit=page.limit, offset=page.offset)
    show_people = may_see_contacts(user)
    return ProposalPage(items=[_row(p, display_name(c), show_people=show_people) for p, c in rows], total=total)


@router.post("/{proposal_id}/approve", response_model=QueuedProposal)
def approve_proposal(proposal_id: DbId, session: SessionDep, user: Analyst,
                     body: ApproveBody | None = None) -> QueuedProposal:
    """Apply the change (checked again against the registry as it is now); the history is re-matched at once."""
    from certmon.registry.service import display_name

    body = body or ApproveBody()
    done = proposals.approve(session, proposal_id=proposal_id, actor=user.email, tlp_max=body.tlp_max,
                             mode=body.mode)
    row = _row(done, display_name(proposals.constituent_of(session, done)))
    session.commit()
    if done.kind.startswith("asset"):
        proposals.rematch_soon(session)
    return row


@router.post("/{proposal_id}/reject", response_model=QueuedProposal)
def reject_proposal(proposal_id: DbId, body: RejectBody, session: SessionDep, user: Analyst) -> QueuedProposal:
    """Turn the proposal down; the organisation sees the reason on Min side."""
    from certmon.registry.service import display_name

    done = proposals.reject(session, proposal_id=proposal_id, actor=user.email, reason=body.reason)
    return _row(done, display_name(proposals.constituent_of(session, done)))
