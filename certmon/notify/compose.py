"""Render one alert e-mail (plain text + HTML + CSV attachment) from an AlertContent.

User-facing words live in templates/<lang>/ (nb, nn, en); Python only moves values around.
Every value from a feed is escaped in HTML (autoescape), flattened to one line where it stands in a
single line, and guarded against spreadsheet formula injection in the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from certmon.tlp import TLP

LANGUAGES = ("nb", "nn", "en")
TEMPLATES = Path(__file__).parent / "templates"
CSV_COLUMNS = ("type", "value", "first_seen", "source", "tlp", "rule", "explanation")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class ItemView:
    """One reported item, flattened for the templates (all strings from feeds, unescaped here)."""

    kind: str
    title: str
    value: str = ""
    indicator_type: str = ""
    url: str = ""  # only http(s) URLs survive
    first_seen: str = ""
    source: str = ""
    tlp: str = "TLP:CLEAR"
    rule: str = ""
    explanation: str = ""
    severity: str = "medium"
    cves: list[str] = field(default_factory=list)
    ip: str = ""
    port: str = ""
    report_type: str = ""
    remedies: list[tuple[str, str, str]] = field(default_factory=list)  # (CSAF category, details, url)
    observed: str = ""  # when the source saw it (scan time, advisory date), local time with zone
    context: list[str] = field(default_factory=list)  # what the feed says around it: malware, C2 status, port

    def __post_init__(self) -> None:
        self.url = safe_url(self.url)
        self.remedies = [(c, d, safe_url(u)) for c, d, u in self.remedies]


@dataclass
class AlertContent:
    """Everything one recipient's e-mail says."""

    reference: str
    constituent_name: str
    tlp: TLP
    items: list[ItemView]
    language: str = "nb"
    withheld: int = 0
    mode: str = "immediate"  # immediate | digest | manual | reminder
    links: dict[str, str] = field(default_factory=dict)  # answer -> signed URL
    reply_to: str = ""
    base_url: str = ""


@dataclass(frozen=True)
class RenderedAlert:
    """Subject and both bodies."""

    subject: str
    text: str
    html: str


def one_line(value: object, limit: int = 300) -> str:
    """Flatten a feed value to one printable line (no CR/LF/control characters), cut to `limit`."""
    text = _CONTROL.sub(" ", str(value or "")).replace("\n", " ")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(value: str | None) -> str:
    """Keep only plain http(s) URLs (no javascript:, data:, or whitespace tricks)."""
    url = (value or "").strip()
    if re.match(r"^https?://[^\s<>\"']+$", url, re.IGNORECASE):
        return url
    return ""


def _env(html: bool) -> Environment:
    # The plain-text environment must not HTML-escape. The HTML environment escapes in every template
    # it loads, the shared _strings.txt macros included: with select_autoescape a macro from a .txt
    # file returned feed text marked safe, unescaped, into the HTML body.
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=html,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_TEXT_ENV = _env(html=False)
_HTML_ENV = _env(html=True)


def render_page(template: str, context: dict[str, object]) -> str:
    """An autoescaped HTML template from the e-mail templates folder (the answer page)."""
    return _HTML_ENV.get_template(template).render(context)


def _context(content: AlertContent) -> dict[str, object]:
    return {
        "c": content,
        "tlp_label": content.tlp.label,
        "tlp_word": content.tlp.value_str,
        "items": content.items,
        "count": len(content.items),
    }


def render(content: AlertContent) -> RenderedAlert:
    """Render subject, plain text and HTML in the content's language."""
    lang = content.language if content.language in LANGUAGES else "nb"
    ctx = _context(content)
    subject = one_line(_TEXT_ENV.get_template(f"{lang}/subject.txt").render(ctx).strip(), limit=200)
    text = _TEXT_ENV.get_template(f"{lang}/alert.txt").render(ctx)
    html = _HTML_ENV.get_template(f"{lang}/alert.html").render(ctx)
    return RenderedAlert(subject=subject, text=text, html=html)


def csv_cell(value: object) -> str:
    """One CSV cell, defused against formula injection (leading = + - @ get a quote)."""
    text = one_line(value, limit=2000)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_attachment(items: list[ItemView]) -> bytes:
    """The indicators/exposures as CSV for firewalls and SIEMs (UTF-8, header row)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        value = item.value or (f"{item.ip}:{item.port}" if item.ip and item.port else item.ip) or item.title
        kind = item.indicator_type or item.kind
        row = (kind, value, item.first_seen, item.source, item.tlp, item.rule, item.explanation)
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def message_domain(mail_from: str) -> str:
    """The stable domain used in Message-IDs (the sender's domain)."""
    return mail_from.rpartition("@")[2].strip(" >") or "certmon.invalid"


def new_message_id(mail_from: str) -> str:
    """A fresh, globally unique Message-ID on the sender's domain."""
    return make_msgid(idstring="certmon", domain=message_domain(mail_from))


def build_message(
    content: AlertContent, *, to: str, mail_from: str, message_id: str, date: datetime
) -> EmailMessage:
    """The complete e-mail: headers, text and HTML alternatives, and the CSV attachment."""
    rendered = render(content)
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = Address(addr_spec=mail_from) if "<" not in mail_from else mail_from
    msg["To"] = to
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Certmon-Reference"] = content.reference
    msg["X-TLP"] = content.tlp.label
    if content.reply_to:
        msg["Reply-To"] = content.reply_to
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    if content.items:
        msg.add_attachment(
            csv_attachment(content.items),
            maintype="text",
            subtype="csv",
            filename=f"indikatorer-{content.reference}.csv",
        )
    return msg
