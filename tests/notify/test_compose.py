"""E-mail content in nb/nn/en: TLP label on top and in the subject, escaping, CSV attachment and injection."""

from __future__ import annotations

import csv
import email
import io
from datetime import UTC, datetime
from email import policy

import pytest

from certmon.notify.compose import (
    AlertContent,
    ItemView,
    build_message,
    csv_attachment,
    csv_cell,
    new_message_id,
    render,
)
from certmon.tlp import TLP

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_VALUE = '"><img src=x onerror=alert(document.cookie)>'


def _content(lang: str, **kw) -> AlertContent:
    items = [
        ItemView(
            kind="indicator",
            title=HOSTILE_TITLE,
            value=HOSTILE_VALUE,
            indicator_type="url",
            url="javascript:alert(1)",
            first_seen="2026-03-01 10:00 UTC",
            source="Feed <b>x</b>",
            tlp="TLP:AMBER",
            rule="domain",
            explanation='=HYPERLINK("http://evil")',
            severity="high",
        ),
        ItemView(
            kind="exposure",
            title="accessible-rdp 192.0.2.7:3389",
            ip="192.0.2.7",
            port="3389",
            report_type="accessible-rdp",
            first_seen="2026-03-02 08:00 UTC",
            source="Shadowserver",
            tlp="TLP:GREEN",
            rule="ip-network",
            explanation="+cmd",
            url="https://example.org/r?a=1&b=2",
        ),
    ]
    defaults = dict(
        reference="HKC-2026-000123",
        constituent_name="Bergen kommune",
        tlp=TLP.AMBER,
        items=items,
        language=lang,
        withheld=1,
        links={
            "mottatt": "https://c.example/svar/t1",
            "utbedret": "https://c.example/svar/t2",
            "ikke-relevant": "https://c.example/svar/t3",
        },
    )
    defaults.update(kw)
    return AlertContent(**defaults)  # type: ignore[arg-type]


WORDS = {
    "nb": ("Varsel", "Hvorfor dere", "Slik svarer du", "Tiltak"),
    "nn": ("Varsel", "Kvifor dykk", "Slik svarar du", "Tiltak"),
    "en": ("Alert", "Why you", "How to answer", "Measures"),
}


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_each_language_renders_tlp_first_and_escapes(lang: str) -> None:
    r = render(_content(lang))
    assert r.subject.startswith("[TLP:AMBER] HKC-2026-000123 ") and r.subject.endswith("(Bergen kommune)")
    assert WORDS[lang][0] in r.subject
    assert r.text.splitlines()[0] == "TLP:AMBER"
    body = r.html.split("<body", 1)[1]
    assert body.index("TLP:AMBER") < body.index("HKC-2026-000123")
    for word in WORDS[lang][1:]:
        assert word.lower() in r.text.lower() and word in r.html
    assert "<script" not in r.html and "<img" not in r.html
    assert "&lt;img src=x onerror=" in r.html  # shown as text, never as markup
    assert "&lt;script&gt;" in r.html and "&lt;b&gt;" in r.html
    assert "javascript:" not in r.html and "javascript:" not in r.text
    assert 'href="https://example.org/r?a=1&amp;b=2"' in r.html
    assert "https://c.example/svar/t2" in r.text and 'href="https://c.example/svar/t2"' in r.html
    assert "<img" not in r.html and "src=" not in r.html.replace("src=x", "")  # no remote content


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_withheld_note(lang: str) -> None:
    with_note = render(_content(lang, withheld=3)).text
    without = render(_content(lang, withheld=0)).text
    assert "3" in with_note and len(with_note) > len(without)


def test_digest_and_reminder_subjects() -> None:
    assert "Daglig oversikt" in render(_content("nb", mode="digest")).subject
    assert "Påminnelse" in render(_content("nb", mode="reminder")).subject
    assert "Reminder" in render(_content("en", mode="reminder")).subject


def test_csv_injection_guard() -> None:
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("+cmd") == "'+cmd" and csv_cell("-x") == "'-x"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("192.0.2.1") == "192.0.2.1"
    rows = list(csv.reader(io.StringIO(csv_attachment(_content("nb").items).decode())))
    assert rows[0] == ["type", "value", "first_seen", "source", "tlp", "rule", "explanation"]
    assert rows[1][0] == "url" and rows[1][1] == HOSTILE_VALUE and rows[1][6].startswith("'=")
    assert rows[2][1] == "192.0.2.7:3389" and rows[2][6] == "'+cmd"


def test_full_message_structure() -> None:
    mid = new_message_id("Varsel <varsel@kommunecert.no>")
    assert mid.endswith("@kommunecert.no>")
    msg = build_message(
        _content("nn"),
        to="it@bergen.kommune.no",
        mail_from="varsel@kommunecert.no",
        message_id=mid,
        date=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == mid and parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"].startswith("[TLP:AMBER] HKC-2026-000123")
    assert parsed.get_content_type() == "multipart/mixed"
    kinds = [p.get_content_type() for p in parsed.walk()]
    assert "text/plain" in kinds and "text/html" in kinds and "text/csv" in kinds
    (att,) = list(parsed.iter_attachments())
    assert att.get_filename() == "indikatorer-HKC-2026-000123.csv"
    assert b"192.0.2.7:3389" in att.get_content().encode() if isinstance(att.get_content(), str) else True


def test_newlines_cannot_inject_headers() -> None:
    content = _content("nb", constituent_name="Bergen\r\nBcc: evil@x.no")
    msg = build_message(
        content,
        to="a@b.no",
        mail_from="v@k.no",
        message_id="<1@k.no>",
        date=datetime(2026, 3, 10, tzinfo=UTC),
    )
    assert "Bcc" not in msg and "\n" not in str(msg["Subject"])


@pytest.mark.parametrize(("lang", "severity", "kind", "seen", "context"), [
    ("nb", "Alvorlighet: Høy", "nettadresse", "Sett av kilden: 01.03.2026 11:00 CET",
     "Fra kilden: emotet, c2 status: online"),
    ("nn", "Alvorsgrad: Høg", "nettadresse", "Sett av kjelda: 01.03.2026 11:00 CET", "Frå kjelda: emotet"),
    ("en", "Severity: High", "URL", "Seen by the source: 01.03.2026 11:00 CET", "From the source: emotet"),
])
def test_body_speaks_the_readers_language_with_the_feeds_context(lang, severity, kind, seen, context) -> None:
    content = _content(lang)
    first = content.items[0]
    first.observed, first.context = "01.03.2026 11:00 CET", ["emotet", "c2 status: online"]
    first.remedies = [("vendor_fix", "Oppgrader til 7.2.5", "https://vendor.example/fix")]
    rendered = render(content)
    for body in (rendered.text, rendered.html):
        assert severity in body and context in body and seen in body
        assert "Alvorlighet: high" not in body and "(url)" not in body
        assert "vendor.example/fix" in body
    assert f"{kind} " in rendered.text  # the indicator's type in the reader's words before its value
    # the subject says what the alert is about, TLP first
    assert rendered.subject.startswith("[TLP:AMBER] HKC-2026-000123")
    assert kind in rendered.subject and "accessible-rdp" in rendered.subject and "(Bergen kommune)" in rendered.subject
