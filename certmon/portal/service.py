"""What a constituent user may see and do: only their own organisation, never above their clearance.

A constituent user (role `constituent`, linked to one organisation) sees the alerts Helse- og
KommuneCERT has released to that organisation (sent, being sent or failed delivery — not queued,
held or cancelled ones, and not reminders, which repeat an alert), each with the matched items at
or below the user's clearance (at most TLP:AMBER+STRICT, never RED). They can answer an alert
(mottatt / utbedret / ikke-relevant) just as the e-mail's answer links do, and read the assets and
alert recipients the CERT has registered for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import clearance
from certmon.errors import Forbidden, NotFound
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.compose import ItemView
from certmon.notify.content import merge_views
from certmon.notify.models import RELEASED, Notification, NotificationMatch
from certmon.notify.service import notification_tlp_rank, record_response
from certmon.registry.models import Asset, Constituent, Contact
from certmon.sources.models import Source
from certmon.tlp import TLP, parse_tlp


@dataclass
class PortalAlert:
    """One alert as the organisation's own user sees it."""

    id: int
    reference: str
    subject: str
    tlp: str
    severity: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    response: str | None
    acknowledged_at: datetime | None
    items: list[ItemView] = field(default_factory=list)
    withheld: int = 0  # matched items above the user's clearance
    more: int = 0  # items beyond the ITEMS_SHOWN on a page


def own_constituent(session: Session, user: User) -> Constituent:
    """The organisation a constituent user belongs to; Forbidden for every other account."""
    if user.role != "constituent" or user.constituent_id is None:
        raise Forbidden("kontoen er ikke knyttet til en virksomhet; Min side er for virksomhetenes egne brukere")
    constituent = session.get(Constituent, user.constituent_id)
    if constituent is None:
        raise Forbidden("virksomheten kontoen var knyttet til finnes ikke lenger")
    return constituent


WITHDRAWN = ("false_positive", "retired")  # matches the CERT has taken back since the alert went out
ITEMS_SHOWN = 200  # per alert on a page; the rest is counted (`more`)


def released_alerts(constituent_id: int, ceiling: TLP):  # type: ignore[no-untyped-def]
    """The organisation's alerts the CERT has let go of, labelled at or below `ceiling`, reminders aside."""
    return (
        select(Notification)
        .where(Notification.constituent_id == constituent_id, Notification.status.in_(RELEASED),
               Notification.mode != "reminder", notification_tlp_rank <= int(ceiling))
    )


def released_item_ids(constituent_id: int, ceiling: TLP):  # type: ignore[no-untyped-def]
    """Ids of the items in those alerts whose matches still stand: what the organisation was told.
    Min side and the organisation's indicator export use this one rule."""
    alerts = released_alerts(constituent_id, ceiling).with_only_columns(Notification.id)
    return (
        select(Match.item_id)
        .join(NotificationMatch, NotificationMatch.match_id == Match.id)
        .where(NotificationMatch.notification_id.in_(alerts), Match.status.not_in(WITHDRAWN))
    )


def released_item_times(constituent_id: int, ceiling: TLP):  # type: ignore[no-untyped-def]
    """The same items as `released_item_ids`, each with when the organisation was last told of it (the
    alert's sending, or its making while no send time is recorded): a subquery (item_id, released_at).
    The TAXII collection of the organisation adds an old item when an alert releases it."""
    alerts = released_alerts(constituent_id, ceiling).with_only_columns(
        Notification.id, func.coalesce(Notification.sent_at, Notification.created_at).label("released_at")).subquery()
    return (
        select(Match.item_id.label("item_id"), func.max(alerts.c.released_at).label("released_at"))
        .join(NotificationMatch, NotificationMatch.match_id == Match.id)
        .join(alerts, alerts.c.id == NotificationMatch.notification_id)
        .where(Match.status.not_in(WITHDRAWN))
        .group_by(Match.item_id)
        .subquery()
    )


def list_alerts(session: Session, user: User, *, limit: int = 20, offset: int = 0) -> tuple[list[PortalAlert], int]:
    """A page of the organisation's released alerts, newest first, with their items; and the total."""
    constituent = own_constituent(session, user)
    ceiling = clearance(user)
    stmt = released_alerts(constituent.id, ceiling)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)))
    return _with_items(session, rows, ceiling), total


def get_alert(session: Session, user: User, *, reference: str) -> PortalAlert:
    """One of the organisation's released alerts by its reference (HKC-…); NotFound otherwise."""
    constituent = own_constituent(session, user)
    ceiling = clearance(user)
    n = session.scalar(released_alerts(constituent.id, ceiling).where(Notification.reference == reference))
    if n is None:
        raise NotFound(f"fant ikke varselet {reference}")
    return _with_items(session, [n], ceiling)[0]


def _with_items(session: Session, alerts: list[Notification], ceiling: TLP) -> list[PortalAlert]:
    """The alerts with their standing items (one query for the whole page)."""
    rows = session.execute(
        select(NotificationMatch.notification_id, Match, StoredItem, func.coalesce(Source.title, Source.name))
        .join(Match, NotificationMatch.match_id == Match.id)
        .join(StoredItem, StoredItem.id == Match.item_id)
        .join(Source, Source.id == StoredItem.source_id)
        .where(NotificationMatch.notification_id.in_([n.id for n in alerts]), Match.status.not_in(WITHDRAWN))
        .order_by(Match.id)
    ).all()
    by_alert: dict[int, list[tuple[Match, StoredItem, str]]] = {n.id: [] for n in alerts}
    for notification_id, match, item, source in rows:
        by_alert[notification_id].append((match, item, source))
    out = []
    for n in alerts:
        found = by_alert[n.id]
        # the label is the truth (unknown labels count as RED), not the derived rank column
        visible = [(m, item, source) for m, item, source in found if parse_tlp(item.tlp, TLP.RED) <= ceiling]
        withheld = len({item.id for _, item, _ in found}) - len({item.id for _, item, _ in visible})
        views = merge_views(visible)
        out.append(PortalAlert(
            id=n.id, reference=n.reference, subject=n.subject, tlp=n.tlp, severity=n.severity, status=n.status,
            created_at=n.created_at, sent_at=n.sent_at, response=n.response, acknowledged_at=n.acknowledged_at,
            items=views[:ITEMS_SHOWN], withheld=withheld, more=max(len(views) - ITEMS_SHOWN, 0),
        ))
    return out


def answer_alert(session: Session, user: User, *, reference: str, answer: str) -> PortalAlert:
    """Record the organisation's answer to one of its alerts (as the e-mail's links do); audited."""
    alert = get_alert(session, user, reference=reference)
    record_response(session, notification_id=alert.id, answer=answer, actor=user.email)
    session.flush()
    return get_alert(session, user, reference=reference)


def assets_of(session: Session, user: User) -> list[Asset]:
    """What the CERT matches the organisation on."""
    constituent = own_constituent(session, user)
    return list(session.scalars(select(Asset).where(Asset.constituent_id == constituent.id)
                                .order_by(Asset.type, Asset.value)))


def contacts_of(session: Session, user: User) -> list[Contact]:
    """Who receives the organisation's alerts by e-mail."""
    constituent = own_constituent(session, user)
    return list(session.scalars(select(Contact).where(Contact.constituent_id == constituent.id,
                                                      Contact.active.is_(True)).order_by(Contact.email)))


def summary(session: Session, user: User) -> dict[str, int]:
    """Counts for the page head: released alerts, those not yet answered, assets."""
    constituent = own_constituent(session, user)
    stmt = released_alerts(constituent.id, clearance(user)).subquery()
    alerts = int(session.scalar(select(func.count()).select_from(stmt)) or 0)
    unanswered = int(session.scalar(select(func.count()).select_from(stmt).where(stmt.c.response.is_(None))) or 0)
    assets = int(session.scalar(select(func.count()).select_from(Asset)
                                .where(Asset.constituent_id == constituent.id)) or 0)
    return {"alerts": alerts, "unanswered": unanswered, "assets": assets}
