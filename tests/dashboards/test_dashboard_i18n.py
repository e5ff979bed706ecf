"""Every dashboard message id has a bokmål translation; the formatting helpers speak Norwegian."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.pofile import read_po

import dashboards
from dashboards.formatting import number, oslo, safe_html, tlp_badge

ROOT = Path(dashboards.__file__).parent
PO = Path(__file__).parents[2] / "certmon" / "locale" / "nb" / "LC_MESSAGES" / "messages.po"


def _used_ids() -> set[str]:
    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                        "lstrip_blocks": "true"}}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, options_map=options,
            keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}):
        found.add(message[0] if isinstance(message, tuple) else message)
    shared = Path(__file__).parents[2] / "certmon" / "i18n.py"  # labels shared with the reports
    with shared.open("rb") as fh:
        found.update(message for _line, _func, message, _comments in extract_python(fh, {"N_": None}, [], {}))
    return found


def test_every_dashboard_message_is_translated_to_bokmal():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="nb")
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog
                  if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    used = _used_ids()
    assert len(used) > 150
    assert sorted(used - translated) == []


def test_dates_are_shown_in_oslo_time_norwegian_style():
    assert oslo(datetime(2026, 1, 15, 12, 5, tzinfo=UTC)) == "15.01.2026 kl. 13:05"
    assert oslo(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == "02.07.2026 kl. 00:30"  # summer time, next day
    assert oslo(None) == "–"


def test_numbers_use_norwegian_grouping_and_decimal_comma():
    assert number(12345) == "12\u00a0345"
    assert number(7.5) == "7,5"


def test_tlp_badge_uses_first_form_and_feed_html_is_cleaned():
    assert tlp_badge("amber+strict") == '<span class="tlp tlp-amber-strict">TLP:AMBER+STRICT</span>'
    assert tlp_badge(None).endswith(">TLP:CLEAR</span>")
    cleaned = str(safe_html('<b>ok</b><script>x()</script><a href="javascript:y()">a</a>'))
    assert "<b>ok</b>" in cleaned and "script" not in cleaned and "javascript" not in cleaned
