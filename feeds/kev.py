"""CISA Known Exploited Vulnerabilities catalogue (JSON) → vulnerability items.

Fields used per entry: cveID, vendorProject, product, vulnerabilityName, dateAdded,
shortDescription, requiredAction, dueDate, knownRansomwareCampaignUse, notes, cwes.
Entries without a well-formed cveID are skipped (the rest of the catalogue still parses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from certmon.items.schemas import Item
from feeds.base import ParseContext
from feeds.common import fail, iso_utc, load_json

_CVE = re.compile(r"CVE-\d{4}-\d{4,7}")


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield one known-exploited vulnerability per catalogue entry."""
    doc = load_json(data, ctx)
    entries = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise fail(ctx, "top level", "not a KEV catalogue ('vulnerabilities' list missing)")
    for entry in entries:
        if isinstance(entry, dict):
            item = _vulnerability(entry, ctx)
            if item is not None:
                yield item


def _text(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    return str(value).strip() or None if value is not None else None


def _vulnerability(entry: dict[str, Any], ctx: ParseContext) -> Item | None:
    cve = (_text(entry, "cveID") or "").upper()
    if not _CVE.fullmatch(cve):
        return None
    extra = {k: entry[k] for k in ("requiredAction", "notes", "cwes") if entry.get(k)}
    due = _text(entry, "dueDate")
    return Item(
        kind="vulnerability",
        key=f"kev:{cve}",
        tlp=ctx.default_tlp.value_str,
        source_format="kev",
        cve=cve,
        cves=[cve],
        vendor=_text(entry, "vendorProject"),
        product=_text(entry, "product"),
        title=_text(entry, "vulnerabilityName"),
        summary=_text(entry, "shortDescription"),
        published=iso_utc(_text(entry, "dateAdded")),
        due_date=(iso_utc(due) or "")[:10] or None,
        known_exploited=True,
        ransomware=str(entry.get("knownRansomwareCampaignUse", "")).strip().lower() == "known",
        extra=extra,
    )
