"""Alerts API: notifications with their deliveries, resend, hand-sent alerts, alert policy, contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from certmon.auth.models import User
from certmon.auth.service import hidden_address, may_handle, may_see_contacts, without_address
from certmon.dbutil import DB_INT_MAX, DbIdValue
from certmon.errors import NotFound
from certmon.i18n import LANGUAGES
from certmon.notify import contacts as contact_service
from certmon.notify import service
from certmon.notify.manual import approve_manual, reject_manual, send_manual
from certmon.notify.models import Notification
from certmon.notify.policy import AlertPolicy, load_policy, save_policy
from certmon.schema_types import documented
from certmon.web.deps import (
    SENDS,
    Admin,
    Analyst,
    ContactViewer,
    DbId,
    PageDep,
    Reader,
    SessionDep,
    user_clearance,
)

router = APIRouter(prefix="/api/v1", tags=["varsler"])


class DeliveryRead(BaseModel):
    """One recipient of an alert and how delivery went."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    language: str
    tlp: str
    withheld: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    message_id: str | None
    subject: str | None = Field(None, description="The Subject line this recipient's e-mail carried "
                                "(null until the message has been built for sending).")
    sent_at: datetime | None


class NotificationRead(BaseModel):
    """An alert (varsel) as listed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    constituent_id: int
    mode: str
    tlp: str
    severity: str
    subject: str
    status: str
    not_before: datetime | None
    created_at: datetime
    sent_at: datetime | None
    reminded_at: datetime | None
    acknowledged_at: datetime | None
    response: str | None
    created_by: str | None


class NotificationDetail(NotificationRead):
    """An alert with its recipients and matches."""

    deliveries: list[DeliveryRead]
    match_ids: list[DbIdValue]


class ResendIn(BaseModel):
    """Which deliveries to send again (default: the failed and cancelled ones)."""

    delivery_ids: list[DbIdValue] | None = None


class ManualIn(BaseModel):
    """An analyst's hand-sent alert (the only way TLP:RED goes out)."""

    match_ids: list[DbIdValue]
    recipients: list[str]
    language: Annotated[str, documented(LANGUAGES)] = "nb"


class RejectIn(BaseModel):
    """Why a hand-sent alert is turned down."""

    reason: str = ""


class ContactRead(BaseModel):
    """A contact as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    constituent_id: int
    email: str
    name: str
    language: str
    tlp_max: str
    mode: str
    min_severity: str
    active: bool


def _delivery_for(user: User, delivery: object) -> DeliveryRead:
    """A delivery as this user may see it: the recipient's address only for those who may see contacts."""
    row = DeliveryRead.model_validate(delivery)
    if may_see_contacts(user):
        return row
    return row.model_copy(update={"email": hidden_address(row.email),
                                  "last_error": without_address(row.last_error, row.email)})


def _visible(user: User, n: Notification) -> bool:
    return may_handle(user, n.tlp, n.constituent_id)


def _get_visible(session: SessionDep, user: User, notification_id: int) -> Notification:
    n = service.get_notification(session, notification_id=notification_id)
    if not _visible(user, n):  # do not reveal that it exists
        raise NotFound(f"varsel {notification_id} finnes ikke")
    return n


@router.get("/notifications")
def list_notifications(
    session: SessionDep,
    user: Reader,
    page: PageDep,
    status: str | None = None,
    constituent_id: int | None = Query(None, alias="constituent", ge=1, le=DB_INT_MAX),
    unanswered: bool = Query(False, description="bare sendte varsler virksomheten ikke har svart på"),
) -> dict[str, Any]:
    """Alerts, newest first: `{"items": [...], "total": N}`; filters `status`, `constituent`, `unanswered`.

    Only alerts at or below the reader's clearance are listed (every role, filtered in SQL).
    """
    rows, total = service.list_notifications(
        session,
        status=status,
        constituent_id=constituent_id,
        tlp_max=user_clearance(user),
        unanswered=unanswered,
        limit=page.limit,
        offset=page.offset,
    )
    return {"items": [NotificationRead.model_validate(n) for n in rows], "total": total}


@router.get("/notifications/{notification_id:int}", response_model=NotificationDetail)
def get_notification(notification_id: DbId, session: SessionDep, user: Reader) -> NotificationDetail:
    """One alert with recipients, status, attempts and errors."""
    n = _get_visible(session, user, notification_id)
    detail = service.notification_detail(session, notification_id=n.id)
    return NotificationDetail(
        **NotificationRead.model_validate(n).model_dump(),
        deliveries=[_delivery_for(user, d) for d in detail["deliveries"]],
        match_ids=detail["match_ids"],
    )


@router.post("/notifications/{notification_id}/resend", response_model=list[DeliveryRead],
             openapi_extra=SENDS)
def resend(notification_id: DbId, body: ResendIn, session: SessionDep, user: Analyst) -> list[DeliveryRead]:
    """Queue deliveries again (fresh Message-IDs); 404 for an alert above the caller's clearance."""
    chosen = service.resend(session, notification_id=notification_id, user=user, delivery_ids=body.delivery_ids)
    return [DeliveryRead.model_validate(d) for d in chosen]


@router.post("/notifications/manual", response_model=NotificationRead, status_code=201, openapi_extra=SENDS)
def create_manual(body: ManualIn, session: SessionDep, user: Analyst) -> NotificationRead:
    """Send matches by hand to named recipients, within the sender's clearance (audited).

    TLP:RED goes only to the organisation's own contacts cleared for RED, and waits for another
    analyst's approval (`POST /notifications/{id}/approve`)."""
    n = send_manual(session, match_ids=body.match_ids, recipients=body.recipients, sender=user,
                    language=body.language)
    return NotificationRead.model_validate(n)


@router.post("/notifications/{notification_id}/approve", response_model=NotificationRead, openapi_extra=SENDS)
def approve(notification_id: DbId, session: SessionDep, user: Analyst) -> NotificationRead:
    """A second analyst releases a hand-sent TLP:RED alert (four eyes; the sender cannot; audited)."""
    return NotificationRead.model_validate(approve_manual(session, notification_id=notification_id, approver=user))


@router.post("/notifications/{notification_id}/reject", response_model=NotificationRead)
def reject(notification_id: DbId, body: RejectIn, session: SessionDep, user: Analyst) -> NotificationRead:
    """Turn down (or withdraw) a hand-sent alert awaiting approval; audited."""
    n = reject_manual(session, notification_id=notification_id, user=user, reason=body.reason)
    return NotificationRead.model_validate(n)


@router.get("/alert-policy", response_model=AlertPolicy)
def get_policy(session: SessionDep, user: Admin) -> AlertPolicy:
    """The alert policy in force."""
    return load_policy(session)


@router.put("/alert-policy", response_model=AlertPolicy)
def put_policy(body: AlertPolicy, session: SessionDep, user: Admin) -> AlertPolicy:
    """Replace the alert policy (validated; every bad field named)."""
    return save_policy(session, body, actor=user.email)


@router.get("/constituents/{constituent_id}/contacts", response_model=list[ContactRead])
def list_contacts(constituent_id: DbId, session: SessionDep, user: ContactViewer) -> list[ContactRead]:
    """A constituent's contacts (analysts and admins: who may see contact addresses, as on the dashboard)."""
    rows = contact_service.list_contacts(session, constituent_id=constituent_id)
    return [ContactRead.model_validate(c) for c in rows]


@router.post("/constituents/{constituent_id}/contacts", response_model=ContactRead, status_code=201)
def create_contact(
    constituent_id: DbId, body: contact_service.ContactIn, session: SessionDep, user: Admin
) -> ContactRead:
    """Add a contact."""
    contact = contact_service.create_contact(
        session, constituent_id=constituent_id, data=body, actor=user.email
    )
    return ContactRead.model_validate(contact)


@router.put("/constituents/{constituent_id}/contacts/{contact_id}", response_model=ContactRead)
def update_contact(
    constituent_id: DbId, contact_id: DbId, body: contact_service.ContactIn, session: SessionDep, user: Admin
) -> ContactRead:
    """Replace a contact's fields."""
    contact = contact_service.update_contact(
        session, constituent_id=constituent_id, contact_id=contact_id, data=body, actor=user.email
    )
    return ContactRead.model_validate(contact)


@router.delete("/constituents/{constituent_id}/contacts/{contact_id}", status_code=204)
def delete_contact(constituent_id: DbId, contact_id: DbId, session: SessionDep, user: Admin) -> Response:
    """Remove a contact."""
    contact_service.delete_contact(
        session, constituent_id=constituent_id, contact_id=contact_id, actor=user.email
    )
    return Response(status_code=204)
