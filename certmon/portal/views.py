"""API: the analysts' queue of registry changes proposed by constituents (`/api/v1/proposals`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

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


def _row(p: proposals.Proposal, name: str) -> QueuedProposal:
    return QueuedProposal.model_validate({**ProposalRead.model_validate(p).model_dump(), "constituent_id":
                                          p.constituent_id, "constituent": name, "target_id": p.target_id,
                                          "decided_by": p.decided_by,
                                          "detail": {k: str(v) for k, v in (p.detail or {}).items()}})


@router.get("", response_model=ProposalPage)
def list_proposals(
    session: SessionDep, user: Reader, page: PageDep,
    status: Annotated[Literal["pending", "approved", "rejected", "withdrawn"] | None,
                      Query(description="default: pending")] = "pending",
) -> ProposalPage:
    """Proposals from the organisations, oldest pending first."""
    from certmon.registry.service import display_name

    rows, total = proposals.queue(session, status=status, limit=page.limit, offset=page.offset)
    return ProposalPage(items=[_row(p, display_name(c)) for p, c in rows], total=total)


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
