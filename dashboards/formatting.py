"""Jinja2 filters: Oslo dates, Norwegian numbers, TLP badges, translated labels, sanitised feed HTML."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from markupsafe import Markup

from certmon.auth.service import hidden_address, without_address
from certmon.i18n import CODE_LABELS, N_, translations
from certmon.registry.service import display_name
from certmon.tlp import TLP, parse_tlp

OSLO = ZoneInfo("Europe/Oslo")
LINK_REL = "noopener noreferrer nofollow"
ALLOWED_SCHEMES = {"http", "https", "mailto"}


# Labels for stored codes. The ids are English; the bokmål text lives in the .po catalogue.
LABELS: dict[str, dict[str, str]] = {
    "match_status": {"new": N_("New"), "confirmed": N_("Confirmed"), "false_positive": N_("False positive"),
                     "notified": N_("Alerted"), "closed": N_("Closed"), "retired": N_("Retired")},
    **CODE_LABELS,
    "notification_status": {"queued": N_("Queued"), "sending": N_("Sending"), "sent": N_("Sent"),
                            "failed": N_("Failed"), "cancelled": N_("Cancelled"), "held": N_("Held back"),
                            "awaiting_approval": N_("Awaiting approval")},
    "outcome": {"ok": N_("OK"), "not-modified": N_("Unchanged"), "error": N_("Error"),
                "unavailable": N_("Unavailable"), "blocked": N_("Blocked"), "too-large": N_("Too large"),
                "parse-error": N_("Could not be read"), "running": N_("Running")},
    "asset_type": {"network": N_("Network"), "asn": N_("AS number"), "domain": N_("Domain"),
                   "email_domain": N_("E-mail domain"), "product": N_("Product"), "supplier": N_("Supplier")},
    "item_kind": {"advisory": N_("Advisory"), "vulnerability": N_("Vulnerability"),
                  "indicator": N_("Indicator"), "exposure": N_("Exposure")},
    "role": {"admin": N_("Administrator"), "analyst": N_("Analyst"), "reader": N_("Reader"),
             "constituent": N_("Constituent"), "feeder": N_("Feeder (pushes data)")},
    "mode": {"immediate": N_("Immediately"), "digest": N_("Digest"), "manual": N_("Manual")},
    "proposal_kind": {"asset_add": N_("New asset"), "asset_remove": N_("Remove asset"),
                      "contact_add": N_("New recipient"), "contact_remove": N_("Remove recipient")},
    "proposal_status": {"pending": N_("Awaiting the CERT"), "approved": N_("Approved"), "rejected": N_("Rejected"),
                        "withdrawn": N_("Withdrawn")},
    "response": {"mottatt": N_("Received"), "utbedret": N_("Fixed"), "ikke-relevant": N_("Not relevant")},
    "indicator_type": {"ipv4": N_("IPv4 address"), "ipv6": N_("IPv6 address"), "cidr": N_("Network range"),
                       "domain": N_("Domain name"), "url": N_("URL"), "email": N_("E-mail address"),
                       "md5": N_("MD5 hash"), "sha1": N_("SHA-1 hash"), "sha256": N_("SHA-256 hash"),
                       "asn": N_("AS number")},
}


def gettext(message: str) -> str:
    """Translate a message id to bokmål."""
    return translations("nb").gettext(message)


def label(code: str | None, group: str) -> str:
    """The bokmål label of a stored code (the code itself when unknown)."""
    if code is None:
        return ""
    text = LABELS.get(group, {}).get(code)
    return gettext(text) if text else code


def oslo(value: datetime | None, fmt: str = "%d.%m.%Y kl. %H:%M") -> str:
    """A UTC datetime as Norwegian local time (`12.03.2026 kl. 14:05`)."""
    if value is None:
        return "–"
    return value.astimezone(OSLO).strftime(fmt)


def oslo_date(value: datetime | None) -> str:
    """Date only (`12.03.2026`)."""
    return oslo(value, "%d.%m.%Y")


def iso_date(value: str | None) -> str:
    """A calendar date given as ISO text (`2026-12-24`, a KEV due date) as `24.12.2026`; as is if unreadable."""
    if not value:
        return "–"
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def number(value: int | float | None) -> str:
    """A number with Norwegian grouping (non-breaking space) and decimal comma."""
    if value is None:
        return "–"
    text = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
    return text.replace(",", "\u00a0").replace(".", ",")


def duration_ms(value: int | None) -> str:
    """Milliseconds as `850 ms` or `2,4 s`."""
    if not value:
        return "–"
    return f"{value} ms" if value < 1000 else number(round(value / 1000, 1)) + " s"


def duration_s(value: float | None) -> str:
    """Seconds as `45 s`, `12 min` or `3 t 5 min` (how long something has waited)."""
    seconds = int(value or 0)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} t {minutes % 60} min"


def tlp_of(value: str | int | TLP | None) -> TLP:
    """Any stored TLP form as the enum (CLEAR if missing)."""
    if isinstance(value, int):
        return TLP(value)
    return parse_tlp(value, TLP.CLEAR)


def tlp_badge(value: str | int | TLP | None) -> Markup:
    """A TLP label in FIRST's form, coloured by CSS class."""
    tlp = tlp_of(value)
    css = tlp.value_str.replace("+", "-")
    return Markup('<span class="tlp tlp-{}">{}</span>').format(css, tlp.label)


def safe_html(value: str | None) -> Markup:
    """Feed HTML cleaned again with nh3 (defence in depth): no scripts, links made harmless."""
    if not value:
        return Markup("")
    cleaned = nh3.clean(value, link_rel=LINK_REL, url_schemes=ALLOWED_SCHEMES)
    return Markup(cleaned)  # noqa: S704 - nh3 has just removed everything unsafe


def item_label(item: Any) -> str:
    """A readable one-line name for any stored item (exposures and indicators have no title)."""
    if item.title:
        return str(item.title)
    if item.kind == "exposure" and item.ip:
        where = f"{item.ip}:{item.port}" if item.port else str(item.ip)
        return f"{item.report_type or 'exposure'} – {where}"
    return str(item.value or item.cve or item.key)


def item_facts(item: Any, sources: dict[int, str] | None = None, asset: str | None = None) -> str:
    """What a row is about, so rows that share a title can be told apart: CVE ids, the product and
    version (the organisation's own when a product match names it), the indicator's type in bokmål,
    the exposure's report type, and the source's display name."""
    data = item.data if isinstance(getattr(item, "data", None), dict) else {}
    facts: list[str] = []
    cves = [c for c in [item.cve, *data.get("cves", [])] if c]
    if cves:
        facts.append(", ".join(dict.fromkeys(cves[:3])) + (" …" if len(set(cves)) > 3 else ""))
    if asset and getattr(item, "kind", "") in ("advisory", "vulnerability"):
        facts.append(asset)
    elif data.get("product"):
        facts.append(" ".join(str(p) for p in (data.get("vendor"), data["product"], data.get("version")) if p))
    elif data.get("products"):
        first = data["products"][0]
        if isinstance(first, dict):
            facts.append(" ".join(str(first[k]) for k in ("vendor", "product", "version") if first.get(k)))
    if item.kind == "indicator" and item.indicator_type:
        facts.append(label(item.indicator_type, "indicator_type") + (f" {item.value}" if item.title and item.value
                                                                      else ""))
    if item.kind == "exposure" and item.report_type:
        facts.append(f"{gettext('Exposure')}: {item.report_type}")
    source = (sources or {}).get(item.source_id)
    if source:
        facts.append(source)
    return " · ".join(f for f in facts if f)


def safe_url(value: str | None) -> str | None:
    """Only http(s) URLs become links."""
    if value and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


FILTERS: dict[str, Any] = {
    "oslo": oslo, "oslo_date": oslo_date, "iso_date": iso_date, "number": number, "duration_ms": duration_ms,
    "duration_s": duration_s,
    "tlp_badge": tlp_badge, "safe_html": safe_html, "safe_url": safe_url, "label": label,
    "display_name": display_name, "item_label": item_label, "item_facts": item_facts,
    # a contact's address for those who may not see it (auth.may_see_contacts)
    "hidden_address": hidden_address, "without_address": without_address,
}
