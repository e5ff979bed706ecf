"""Every message id the report templates and code use has a bokmål translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import certmon.reports

ROOT = Path(certmon.reports.__file__).parent
PO = Path(__file__).parents[2] / "certmon" / "locale" / "nb" / "LC_MESSAGES" / "messages.po"


def test_every_report_message_is_translated_to_bokmal():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="nb")
    translated = {m.id for m in catalog if m.id and m.string}
    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                                        "lstrip_blocks": "true"}}
    used = {message for _f, _l, message, _c, _x in extract_from_dir(
        str(ROOT), method_map, options_map=options, keywords={"_": None, "N_": None, "gettext": None})}
    assert len(used) > 50
    assert sorted(used - translated) == []
