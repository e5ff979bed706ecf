"""CSAF 2.0 advisories → one advisory plus one vulnerability per CVE; ROLIE/provider-metadata → none.

Fields used: document.title, document.tracking (id, initial_release_date, current_release_date),
document.references (category `self`), document.distribution.tlp.label (TLP 1.0 words, WHITE is
CLEAR), product_tree.branches (vendor → product_name → product_version/product_version_range),
vulnerabilities[] (cve, title, notes, scores[].cvss_v3/cvss_v2 baseScore).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from certmon.items.schemas import Item, Product
from certmon.tlp import parse_tlp
from feeds.base import ParseContext
from feeds.common import fail, iso_utc, load_json, sanitise_html

MAX_PRODUCTS = 200  # a vendor tree can list thousands of builds; matching needs the families
_MAX_DEPTH = 12


def is_csaf_index(data: bytes) -> str | None:
    """'rolie' or 'provider-metadata' when the JSON is a CSAF discovery document, else None."""
    try:
        doc = load_json(data, ParseContext())
    except Exception:
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("feed"), dict) and "entry" in doc["feed"]:
        return "rolie"
    if "canonical_url" in doc and ("distributions" in doc or "publisher" in doc) and "document" not in doc:
        return "provider-metadata"
    return None


def parse(data: bytes, ctx: ParseContext) -> Iterator[Item]:
    """Yield the advisory and its vulnerabilities; nothing for a discovery (index) document."""
    doc = load_json(data, ctx)
    if is_csaf_index(data) is not None:
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
        raise fail(ctx, "top level", "not a CSAF document ('document' object missing)")
    meta = doc["document"]
    tracking = meta.get("tracking") if isinstance(meta.get("tracking"), dict) else {}
    tracking_id = str(tracking.get("id") or "").strip()
    if not tracking_id:
        raise fail(ctx, "document.tracking.id", "missing tracking id")
    tlp = _tlp(meta, ctx)
    vulns = [v for v in doc.get("vulnerabilities") or [] if isinstance(v, dict)]
    cves = sorted({str(v["cve"]).strip().upper() for v in vulns if v.get("cve")})
    scores = [s for v in vulns if (s := _max_score(v)) is not None]
    top = max(scores, default=None)
    published = iso_utc(tracking.get("initial_release_date"))
    yield Item(
        kind="advisory", key=f"csaf:{tracking_id}", tlp=tlp, source_format="csaf",
        title=str(meta.get("title") or tracking_id), url=_self_url(meta) or tracking_id,
        published=published, updated=iso_utc(tracking.get("current_release_date")),
        summary=sanitise_html(_note(meta.get("notes"), ("summary", "description"))),
        cves=cves, products=_products(doc.get("product_tree")), cvss=top, severity=_severity(top),
        extra={"tracking_id": tracking_id, "publisher": (meta.get("publisher") or {}).get("name")},
    )
    for vuln in vulns:
        cve = str(vuln.get("cve") or "").strip().upper()
        if not cve:
            continue
        score = _max_score(vuln)
        yield Item(
            kind="vulnerability", key=f"csaf:{tracking_id}:{cve}", tlp=tlp, source_format="csaf",
            cve=cve, cves=[cve], title=vuln.get("title") or None, published=published,
            summary=sanitise_html(_note(vuln.get("notes"), ("description", "summary"))),
            cvss=score, severity=_severity(score), url=_self_url(meta),
            known_exploited=None, extra={"tracking_id": tracking_id},
        )


def _tlp(meta: dict[str, Any], ctx: ParseContext) -> str:
    dist = meta.get("distribution")
    label = ((dist or {}).get("tlp") or {}).get("label") if isinstance(dist, dict) else None
    return parse_tlp(label, ctx.default_tlp).value_str if label else ctx.default_tlp.value_str


def _self_url(meta: dict[str, Any]) -> str | None:
    for ref in meta.get("references") or []:
        if isinstance(ref, dict) and ref.get("category") == "self" and ref.get("url"):
            return str(ref["url"])
    return None


def _note(notes: Any, categories: tuple[str, ...]) -> str | None:
    for category in categories:
        for note in notes if isinstance(notes, list) else ():
            if isinstance(note, dict) and note.get("category") == category and note.get("text"):
                return str(note["text"])
    return None


def _max_score(vuln: dict[str, Any]) -> float | None:
    found: list[float] = []
    for score in vuln.get("scores") or []:
        for name in ("cvss_v3", "cvss_v2"):
            base = (score.get(name) or {}).get("baseScore") if isinstance(score, dict) else None
            if isinstance(base, int | float):
                found.append(float(base))
    return max(found, default=None)


def _severity(score: float | None) -> str | None:
    if score is None:
        return None
    return "critical" if score >= 9 else "high" if score >= 7 else "medium" if score >= 4 else "low"


def _products(tree: Any) -> list[Product]:
    found: dict[tuple[str, str, str | None], Product] = {}

    def walk(branches: Any, vendor: str | None, product: str | None, depth: int) -> None:
        if depth > _MAX_DEPTH or not isinstance(branches, list):
            return
        for branch in branches:
            if not isinstance(branch, dict) or len(found) >= MAX_PRODUCTS:
                continue
            category, name = branch.get("category"), str(branch.get("name") or "")
            v, p = vendor, product
            if category == "vendor":
                v = name
            elif category == "product_name":
                p = name
            elif category in ("product_version", "product_version_range") and v and p:
                found.setdefault((v, p, name), Product(vendor=v, product=p, version=name))
                continue
            if v and p and not branch.get("branches"):
                found.setdefault((v, p, None), Product(vendor=v, product=p))
            walk(branch.get("branches"), v, p, depth + 1)

    walk((tree or {}).get("branches") if isinstance(tree, dict) else None, None, None, 0)
    return list(found.values())
