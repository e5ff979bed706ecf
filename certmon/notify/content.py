"""Load what one delivery's e-mail says from the database, applying the recipient's TLP clearance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.config import Settings
from certmon.items.models import StoredItem
from certmon.matching.explain import localise
from certmon.matching.models import Match
from certmon.notify.compose import AlertContent, ItemView, one_line
from certmon.notify.links import ANSWERS, make_link
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.notify.outbox import recipient_of
from certmon.notify.recipients import AlertItem, Recipient, allot
from certmon.registry.models import Constituent, Contact
from certmon.registry.service import display_name
from certmon.sources.models import Source
from certmon.tlp import TLP, parse_tlp


@dataclass(frozen=True)
class Planned:
    """The content for one delivery, or why it must not be sent."""

    content: AlertContent | None
    cancel_reason: str | None = None


def origin_of(session: Session, notification: Notification) -> Notification:
    """A reminder's original alert (answers and links point there); otherwise the notification itself."""
    if notification.mode == "reminder" and notification.dedupe_key.startswith("reminder:"):
        original = session.get(Notification, int(notification.dedupe_key.split(":")[1]))
        if original is not None:
            return original
    return notification


def item_view(match: Match, item: StoredItem, source_name: str, language: str = "nb") -> ItemView:
    """Flatten one match and its item for the templates and the CSV, the explanation in `language`."""
    data = item.data or {}
    if item.kind == "indicator":  # the templates put the type in the reader's language before it
        title = item.value or ""
    elif item.kind == "exposure":
        title = f"{item.report_type or 'exposure'} {item.ip or ''}{':' + str(item.port) if item.port else ''}"
    else:
        title = item.title or item.cve or item.key
    cves = data.get("cves") or ([item.cve] if item.cve else [])
    return ItemView(
        kind=item.kind,
        title=one_line(title, 200),
        value=one_line(item.value or item.cve or ""),
        indicator_type=one_line(item.indicator_type or ""),
        url=item.url or "",
        first_seen=local_time(item.first_seen),
        observed=_observed(data),
        context=_context(data),
        source=one_line(source_name, 100),
        tlp=parse_tlp(item.tlp, TLP.RED).label,
        rule=match.rule,
        explanation=one_line(localise(match.explanation, language), 500),
        severity=one_line(match.severity or "medium", 20),
        cves=[one_line(c, 30) for c in cves if c],
        ip=one_line(item.ip or "", 64),
        port=str(item.port or ""),
        report_type=one_line(item.report_type or "", 100),
        remedies=_remedies(data),
    )


def local_time(value: datetime | None) -> str:
    """Norwegian local time with its zone, as the dashboard shows it: `06.12.2026 14:05 CET`."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_OSLO).strftime("%d.%m.%Y %H:%M %Z")


def _observed(data: dict) -> str:
    """When the source says it happened: the scan, the sighting, the advisory's publication."""
    for key in ("observed_at", "valid_from", "published"):
        text = data.get(key)
        if text:
            try:
                return local_time(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
            except ValueError:
                continue
    return ""


def _context(data: dict) -> list[str]:
    """The feed's words around a finding (malware family and tags, C2 and URL status, port, ASN)."""
    extra = data.get("extra") or {}
    found = [str(label) for label in data.get("labels") or [] if label]
    for key in ("malware", "malware_family", "threat_type", "c2_status", "status", "url_status", "tag"):
        if extra.get(key) and str(extra[key]) not in found:  # a tag already given as a label once
            found.append(f"{key.replace('_', ' ')}: {extra[key]}")
    if extra.get("port") and not data.get("port"):
        found.append(f"port {extra['port']}")
    if data.get("asn"):
        found.append(f"AS{data['asn']}")
    return [one_line(f, 80) for f in dict.fromkeys(found)][:8]


def _remedies(data: dict) -> list[tuple[str, str, str]]:
    """The publisher's remediations (CSAF vendor_fix, workaround, mitigation …), at most five."""
    out = []
    for r in ((data.get("extra") or {}).get("remediations") or [])[:5]:
        if isinstance(r, dict) and r.get("category"):
            out.append((one_line(str(r["category"]), 30), one_line(str(r.get("details") or ""), 400),
                        str(r.get("url") or "")))
    return out


_OSLO = ZoneInfo("Europe/Oslo")
SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def merge_views(rows: Iterable[tuple[Match, StoredItem, str]], language: str = "nb") -> list[ItemView]:
    """One entry per item: an item matched by several rules lists every reason once."""
    views: dict[int, ItemView] = {}
    for match, item, source_name in rows:
        view = item_view(match, item, source_name, language)
        seen = views.get(item.id)
        if seen is None:
            views[item.id] = view
            continue
        if view.explanation not in seen.explanation:
            seen.explanation = f"{seen.explanation} {view.explanation}"
        if SEVERITY_ORDER.get(view.severity, 1) > SEVERITY_ORDER.get(seen.severity, 1):
            seen.severity = view.severity
    return list(views.values())


def _recipient(session: Session, delivery: Delivery, notification: Notification) -> Recipient | None:
    if notification.mode == "manual":  # the analyst named the recipient and cleared it for this TLP
        return Recipient(
            email=delivery.email,
            constituent_id=notification.constituent_id,
            tlp_max=parse_tlp(delivery.tlp, TLP.CLEAR),
            language=delivery.language,
        )
    contact = session.get(Contact, delivery.contact_id) if delivery.contact_id else None
    if contact is None or not contact.active or contact.email.lower() != delivery.email.lower():
        return None
    return recipient_of(contact)


def plan_delivery(session: Session, delivery: Delivery, settings: Settings) -> Planned:
    """Build the AlertContent for a delivery; TLP is re-checked against the contact as it is now."""
    notification = session.get(Notification, delivery.notification_id)
    assert notification is not None
    origin = origin_of(session, notification)
    recipient = _recipient(session, delivery, notification)
    if recipient is None:
        return Planned(None, "kontakten er fjernet, deaktivert eller endret")
    rows = session.execute(
        select(Match, StoredItem, Source.title, Source.name)
        .join(NotificationMatch, NotificationMatch.match_id == Match.id)
        .join(StoredItem, StoredItem.id == Match.item_id)
        .join(Source, Source.id == StoredItem.source_id)
        .where(NotificationMatch.notification_id == notification.id)
        .order_by(Match.id)
    ).all()
    by_id = {m.id: (m, i, title or name) for m, i, title, name in rows}
    items = [AlertItem(m.id, parse_tlp(i.tlp, TLP.RED), m.severity or "medium") for m, i, _ in by_id.values()]
    mode = origin.mode if notification.mode == "reminder" else notification.mode
    share = allot(
        notification.constituent_id, [recipient], items, mode=mode, automatic=notification.mode != "manual"
    )[0]
    if not share.items:
        return Planned(None, "ingen funn mottakeren er klarert for")
    constituent = session.get(Constituent, notification.constituent_id)
    delivery.tlp, delivery.withheld = share.tlp.value_str, share.withheld
    content = AlertContent(
        reference=notification.reference,
        constituent_name=display_name(constituent) if constituent else "",
        tlp=share.tlp,
        items=merge_views((by_id[i.match_id] for i in share.items), delivery.language or "nb"),
        language=delivery.language,
        withheld=share.withheld,
        mode=notification.mode,
        links={a: make_link(origin.id, a, delivery_id=delivery.id, settings=settings) for a in ANSWERS},
        base_url=settings.public_base_url,
    )
    return Planned(content)
