"""The outbox: turn new matches into queued notifications in the caller's transaction (never commits).

One notification per constituent per grouping window (immediate contacts) and per digest slot
(digest contacts); a notification still `queued` is joined by later matches of the same window.
Joining takes the row lock with a conditional UPDATE … WHERE status='queued', the same row the
sender flips to `sending` when it starts, so a match is never added to an e-mail already on its way.

Leading edge: when a window's first e-mail has not left yet and a finding the policy calls urgent
(`leads_window`) joins or opens it, its `not_before` becomes now, so it leaves at once with what it
holds; later findings of that window open `…#2`, the follow-up, due when the window closes. At
most two e-mails per organisation and window, and every match in exactly one (dedupe keys).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.dispatch import note_queued
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.policy import AlertPolicy, eligible, leads_window, load_policy, severity_rank
from certmon.notify.recipients import AlertItem, Allotment, Recipient, allot
from certmon.notify.schedule import next_digest_slot, window_start
from certmon.registry.models import Contact
from certmon.tlp import TLP, max_tlp, parse_tlp

REFERENCE_PREFIX = "HKC"
AUTO_MODES = ("immediate", "digest")


def reference_for(notification_id: int, year: int) -> str:
    """`HKC-<year>-<6-digit id>`: unique because the id is (no separate counter to race on)."""
    return f"{REFERENCE_PREFIX}-{year}-{notification_id:06d}"


def recipient_of(contact: Contact) -> Recipient:
    """The TLP logic's view of a contact."""
    return Recipient(
        email=contact.email,
        constituent_id=contact.constituent_id,
        tlp_max=parse_tlp(contact.tlp_max, TLP.CLEAR),
        mode=contact.mode,
        min_severity=contact.min_severity,
        language=contact.language,
        contact_id=contact.id,
    )


@dataclass(frozen=True)
class _Slot:
    mode: str
    key: str
    not_before: datetime
    open_status: str = "queued"


def _slots(constituent_id: int, policy: AlertPolicy, now: datetime) -> dict[str, _Slot]:
    start = window_start(now, policy.window_minutes)
    hour, minute = policy.digest_hour_minute
    digest_at = next_digest_slot(now, time(hour, minute))
    return {
        "immediate": _Slot(
            "immediate",
            f"auto:{constituent_id}:{start.isoformat()}",
            start + timedelta(minutes=policy.window_minutes),
        ),
        "digest": _Slot("digest", f"digest:{constituent_id}:{digest_at.isoformat()}", digest_at),
        "held": _Slot("held", f"held:{constituent_id}:{start.isoformat()}", start, open_status="held"),
    }


LEFT = ("sending", "sent")  # an e-mail of the window that reached (or is reaching) the relay


def open_notification(
    session: Session, *, constituent_id: int, slot: _Slot, now: datetime, at_once: bool = False
) -> Notification:
    """The still-open notification for this slot, or a new one (`…#2` once the first has left).

    `at_once`: an urgent finding joins; unless an e-mail of this window has already left, the
    notification is due now (leading edge) instead of when the window closes."""
    left = False
    for n in range(1, 1000):
        key = slot.key if n == 1 else f"{slot.key}#{n}"
        existing = session.scalar(select(Notification).where(Notification.dedupe_key == key))
        if existing is not None:
            values: dict[str, object] = {"status": slot.open_status}
            if at_once and not left:
                values["not_before"] = case((Notification.not_before > now, now), else_=Notification.not_before)
            locked = session.execute(
                update(Notification)
                .where(Notification.id == existing.id, Notification.status == slot.open_status)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if locked.rowcount == 1:  # type: ignore[attr-defined]
                if "not_before" in values:
                    session.refresh(existing, ["not_before"])
                return existing
            status = session.scalar(select(Notification.status).where(Notification.id == existing.id))
            left = left or status in LEFT
            continue
        notification = Notification(
            reference="tmp-" + secrets.token_hex(12),
            constituent_id=constituent_id,
            mode="immediate" if slot.mode == "held" else slot.mode,
            status=slot.open_status,
            dedupe_key=key,
            not_before=now if at_once and not left else slot.not_before,
            created_at=now,
            tlp="clear",
            severity="low",
        )
        try:
            with session.begin_nested():
                session.add(notification)
                session.flush()
        except IntegrityError:  # another transaction created this slot first: look again
            continue
        notification.reference = reference_for(notification.id, now.year)
        return notification
    raise RuntimeError(f"too many notifications for slot {slot.key}")  # pragma: no cover


def _attach(
    session: Session, notification: Notification, items: Sequence[AlertItem], shares: Sequence[Allotment]
) -> None:
    """Link matches and add or widen one delivery per recipient; keep TLP/severity rolled up."""
    linked = set(
        session.scalars(
            select(NotificationMatch.match_id).where(NotificationMatch.notification_id == notification.id)
        )
    )
    for item in items:
        if item.match_id not in linked:
            session.add(NotificationMatch(notification_id=notification.id, match_id=item.match_id))
    tlps = [parse_tlp(notification.tlp, TLP.CLEAR), *(i.tlp for i in items)]
    notification.tlp = max_tlp(tlps).value_str
    worst = max([notification.severity, *(i.severity for i in items)], key=severity_rank)
    notification.severity = worst
    existing = {
        d.email.lower(): d
        for d in session.scalars(select(Delivery).where(Delivery.notification_id == notification.id))
    }
    for share in shares:
        if not share.items:
            continue
        rcpt = share.recipient
        delivery = existing.get(rcpt.email.lower())
        if delivery is None:
            session.add(
                Delivery(
                    notification_id=notification.id,
                    contact_id=rcpt.contact_id,
                    email=rcpt.email,
                    language=rcpt.language,
                    tlp=share.tlp.value_str,
                    withheld=share.withheld,
                    status="queued",
                )
            )
        else:
            delivery.tlp = max(parse_tlp(delivery.tlp, TLP.CLEAR), share.tlp).value_str
            delivery.withheld += share.withheld
    count = len(linked | {i.match_id for i in items})
    notification.subject = summary_subject(parse_tlp(notification.tlp), notification.reference,
                                           notification.mode, count)


def summary_subject(tlp: TLP, reference: str, mode: str, count: int) -> str:
    """The subject shown to analysts (recipients' e-mails are rendered in their own language)."""
    kind = {"digest": "Daglig oversikt", "manual": "Manuelt varsel"}.get(mode, "Varsel")
    return f"[{tlp.label}] {reference} {kind}: {count} funn"


def known_exploited(item: StoredItem) -> bool:
    """A vulnerability known to be exploited (KEV), or an item its source says is exploited now."""
    extra = (item.data or {}).get("extra") or {}
    return bool(item.known_exploited or (isinstance(extra, dict) and extra.get("actively_exploited")))


def _queued_before(session: Session, match_ids: Sequence[int]) -> set[tuple[int, str]]:
    rows = session.execute(
        select(NotificationMatch.match_id, Notification.mode, Notification.dedupe_key)
        .join(Notification, Notification.id == NotificationMatch.notification_id)
        .where(NotificationMatch.match_id.in_(match_ids))
    )
    seen = set()
    for match_id, mode, key in rows:
        seen.add((match_id, "held" if key.startswith("held:") else mode))
    return seen


def queue_alerts(
    session: Session, *, match_ids: list[int], now: datetime | None = None
) -> list[Notification]:
    """Queue alerts for the eligible matches among `match_ids`; idempotent; the caller commits."""
    now = now or utcnow()
    if not match_ids:
        return []
    policy = load_policy(session)
    rows = session.execute(
        select(Match, StoredItem)
        .join(StoredItem, StoredItem.id == Match.item_id)
        .where(Match.id.in_(match_ids))
    ).all()
    seen = _queued_before(session, match_ids)
    per_constituent: dict[int, list[AlertItem]] = defaultdict(list)
    urgent: set[int] = set()
    for match, item in rows:
        if eligible(policy, match, item):
            per_constituent[match.constituent_id].append(
                AlertItem(match.id, parse_tlp(item.tlp, TLP.RED), match.severity or "medium")
            )
            if leads_window(policy, match.severity, known_exploited=known_exploited(item)):
                urgent.add(match.id)
    touched: dict[int, Notification] = {}
    for constituent_id, items in sorted(per_constituent.items()):
        contacts = session.scalars(
            select(Contact)
            .where(Contact.constituent_id == constituent_id, Contact.active.is_(True))
            .order_by(Contact.id)
        ).all()
        recipients = [recipient_of(c) for c in contacts]
        slots = _slots(constituent_id, policy, now)
        delivered: set[int] = set()
        for mode in AUTO_MODES:
            fresh = [i for i in items if (i.match_id, mode) not in seen]
            shares = allot(constituent_id, recipients, fresh, mode=mode)
            got = {i.match_id for s in shares for i in s.items}
            delivered |= got | {i.match_id for i in items if (i.match_id, mode) in seen}
            if got:
                notification = open_notification(
                    session, constituent_id=constituent_id, slot=slots[mode], now=now,
                    at_once=mode == "immediate" and bool(got & urgent),
                )
                _attach(session, notification, [i for i in fresh if i.match_id in got], shares)
                touched[notification.id] = notification
        orphans = [i for i in items if i.match_id not in delivered and (i.match_id, "held") not in seen]
        if orphans:  # nobody may receive these: keep them visible for an analyst to send by hand
            notification = open_notification(
                session, constituent_id=constituent_id, slot=slots["held"], now=now
            )
            _attach(session, notification, orphans, [])
            touched[notification.id] = notification
    session.flush()
    note_queued(session, touched)  # delivery starts once the caller commits (certmon.notify.dispatch)
    return list(touched.values())

