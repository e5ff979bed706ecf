"""Hand-sent alerts: an analyst sends matches to named recipients, bounded by the sender's clearance.

Rules (docs/security.md): the sender handles only matches within their own clearance (the others
answer as unknown, so sequential ids reveal nothing); AMBER+STRICT goes only to the organisation's
own contacts; a contact gets nothing above its own ceiling; TLP:RED goes only to the organisation's
own active contacts cleared for RED, never to a typed-in address, and waits in `awaiting_approval`
until a second analyst (not the sender) approves it. Every step is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import has_role, may_handle
from certmon.db import utcnow
from certmon.errors import Conflict, Forbidden, NotFound, ValidationFailed
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.contacts import check_email
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.outbox import reference_for, summary_subject
from certmon.notify.policy import severity_rank
from certmon.registry.models import Contact
from certmon.tlp import TLP, max_tlp, parse_tlp

AWAITING = "awaiting_approval"


def _visible_matches(session: Session, sender: User, match_ids: Sequence[int]) -> list[tuple[Match, StoredItem]]:
    rows = session.execute(
        select(Match, StoredItem).join(StoredItem, StoredItem.id == Match.item_id).where(Match.id.in_(match_ids))
    ).all()
    visible = [(m, i) for m, i in rows if may_handle(sender, i.tlp, m.constituent_id)]
    if not visible or len(visible) != len(set(match_ids)):  # above clearance answers like unknown
        raise NotFound("ukjente treff: " + ", ".join(str(m) for m in sorted(set(match_ids))))
    return [(m, i) for m, i in visible]


def check_recipients(tlp: TLP, addresses: Sequence[str], own: dict[str, Contact]) -> None:
    """Refuse any address the alert's TLP may not go to (Forbidden naming the address)."""
    for address in addresses:
        contact = own.get(address)
        if tlp == TLP.RED and (contact is None or not contact.active
                               or parse_tlp(contact.tlp_max, TLP.CLEAR) < TLP.RED):
            raise Forbidden(f"{address}: TLP:RED går bare til virksomhetens egne kontakter som er klarert for RED")
        if tlp == TLP.AMBER_STRICT and contact is None:
            raise Forbidden(f"{address}: TLP:AMBER+STRICT går bare til virksomhetens egne kontakter")
        if contact is not None and parse_tlp(contact.tlp_max, TLP.CLEAR) < tlp:
            raise Forbidden(f"{address}: kontakten er ikke klarert for {tlp.label}")


def _addresses(recipients: Sequence[str]) -> list[str]:
    """The recipients as plain addresses, lower-cased and sorted; each one must be a single e-mail address
    (a comma list or a line break would reach people the audit does not name, or fail at delivery)."""
    addresses, problems = set(), []
    for n, raw in enumerate(recipients):
        if not raw.strip():
            continue
        try:
            addresses.add(check_email(raw))
        except ValueError:
            problems.append(f"body.recipients.{n}: {raw.strip()[:80]!r} er ikke én e-postadresse")
    if problems:
        raise ValidationFailed("ugyldig mottaker: skriv én e-postadresse per mottaker", problems)
    if not addresses:
        raise ValidationFailed("ingen mottakere")
    return sorted(addresses)


def _own_contacts(session: Session, constituent_id: int) -> dict[str, Contact]:
    stmt = select(Contact).where(Contact.constituent_id == constituent_id)
    return {c.email.lower(): c for c in session.scalars(stmt)}


def send_manual(
    session: Session, *, match_ids: list[int], recipients: list[str], sender: User, language: str = "nb",
    now: datetime | None = None,
) -> Notification:
    """Queue an analyst's hand-sent alert (the only way TLP:RED leaves) to named recipients; audited.

    TLP:RED is created `awaiting_approval`; `approve_manual` by another analyst releases it."""
    now = now or utcnow()
    rows = _visible_matches(session, sender, match_ids)
    constituents = {m.constituent_id for m, _ in rows}
    if len(constituents) != 1:
        raise ValidationFailed("et varsel gjelder én virksomhet; treffene gjelder flere")
    addresses = _addresses(recipients)
    constituent_id = constituents.pop()
    tlp = max_tlp([parse_tlp(i.tlp, TLP.RED) for _, i in rows])
    own = _own_contacts(session, constituent_id)
    check_recipients(tlp, addresses, own)
    notification = Notification(
        reference="tmp-" + secrets.token_hex(12), constituent_id=constituent_id, mode="manual",
        status=AWAITING if tlp == TLP.RED else "queued", dedupe_key=f"manual:{secrets.token_hex(16)}",
        created_at=now, created_by=sender.email, tlp=tlp.value_str,
        severity=max((m.severity for m, _ in rows), key=severity_rank),
    )
    session.add(notification)
    session.flush()
    notification.reference = reference_for(notification.id, now.year)
    notification.subject = summary_subject(tlp, notification.reference, notification.mode, len(rows))
    for match, _ in rows:
        session.add(NotificationMatch(notification_id=notification.id, match_id=match.id))
    for address in addresses:
        contact = own.get(address)
        session.add(Delivery(notification_id=notification.id, contact_id=contact.id if contact else None,
                             email=address, language=contact.language if contact else language,
                             tlp=tlp.value_str, status="queued"))
    record(session, actor=sender.email, action="notification.send_manual", entity_type="notification",
           entity_id=notification.id, reference=notification.reference, tlp=tlp.value_str, recipients=addresses,
           match_ids=sorted(set(match_ids)), awaiting_approval=notification.status == AWAITING)
    session.flush()
    return notification


def _awaiting(session: Session, user: User, notification_id: int) -> Notification:
    n = session.get(Notification, notification_id)
    if n is None or not may_handle(user, n.tlp, n.constituent_id):
        raise NotFound(f"varsel {notification_id} finnes ikke")
    if n.status != AWAITING:
        raise Conflict(f"varsel {n.reference} venter ikke på godkjenning")
    if not has_role(user, "analyst"):
        raise Forbidden("bare analytikere kan godkjenne eller avvise varsler")
    return n


def approve_manual(session: Session, *, notification_id: int, approver: User) -> Notification:
    """The second analyst's approval (four eyes) that releases a hand-sent TLP:RED alert; audited."""
    n = _awaiting(session, approver, notification_id)
    if (n.created_by or "").lower() == approver.email.lower():
        raise Forbidden("en annen analytiker enn avsenderen må godkjenne et TLP:RED-varsel")
    own = _own_contacts(session, n.constituent_id)
    deliveries = session.scalars(select(Delivery).where(Delivery.notification_id == n.id)).all()
    check_recipients(parse_tlp(n.tlp, TLP.RED), [d.email.lower() for d in deliveries], own)  # still cleared?
    n.status = "queued"
    record(session, actor=approver.email, action="notification.approve", entity_type="notification",
           entity_id=n.id, reference=n.reference, sender=n.created_by, recipients=[d.email for d in deliveries])
    session.flush()
    return n


def reject_manual(session: Session, *, notification_id: int, user: User, reason: str = "") -> Notification:
    """Turn down a hand-sent alert awaiting approval (the sender may withdraw it too); audited."""
    n = _awaiting(session, user, notification_id)
    n.status = "cancelled"
    session.execute(update(Delivery).where(Delivery.notification_id == n.id)
                    .values(status="cancelled", last_error="avvist: " + (reason or "uten begrunnelse"))
                    .execution_options(synchronize_session=False))
    record(session, actor=user.email, action="notification.reject", entity_type="notification", entity_id=n.id,
           reference=n.reference, sender=n.created_by, reason=reason)
    session.flush()
    return n
