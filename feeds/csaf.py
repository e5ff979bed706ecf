"""CSAF 2.0 and 2.1 advisories (and VEX documents) → one advisory plus one vulnerability per entry.

Read the way vendors mean them (docs/feeds.md lists every field):
- the whole product tree: `branches` (vendor → product_family → product_name → product_version /
  product_version_range, architecture, …; the nearest product name or family names the product),
  `full_product_names`, `relationships` (2.0) and `product_paths` (2.1) (the full product name a
  relationship or path creates is a product: the component, with the product it is part of or
  installed on as its platform; a path of several steps names each), `product_groups`,
  and `product_identification_helper` (CPE 2.2/2.3, purl; hashes, model and serial numbers kept);
- per vulnerability the product status: known_affected / first_affected / last_affected →
  affected (first/last become ranges), fixed / first_fixed → fixed (first_fixed: that version and
  later), known_not_affected → not_affected with the VEX flag or impact statement as justification,
  under_investigation, recommended; remediations, threats, CVSS 2/3/4 scores (2.0 `scores`, 2.1
  `metrics`); exploitation (an `exploit_status` threat saying so, 2.1 `first_known_exploitation_dates`);
- TLP from `distribution.tlp.label` (TLP 1.0 words in 2.0, TLP 2.0 words in 2.1; an unknown label
  is RED, never more open than written).

Each vulnerability item carries its own products and statuses; the advisory carries them all
(each status with the CVEs it is for), and the advisory is what matching uses, so an
organisation gets one match per advisory however many CVEs it lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from msgspec.structs import replace as with_fields

from certmon.items.schemas import Item, Product
from certmon.tlp import TLP, parse_tlp
from feeds.base import ParseContext
from feeds.common import fail, iso_utc, load_json, sanitise_html

MAX_PRODUCTS = 3000  # per item; affected ones are kept first when a tree is larger
MAX_REMEDIATIONS = 50
_MAX_DEPTH = 30
_STATUS = {
    "known_affected": "affected", "first_affected": "affected", "last_affected": "affected",
    "fixed": "fixed", "first_fixed": "fixed", "known_not_affected": "not_affected",
    "under_investigation": "under_investigation", "recommended": "recommended",
}
_RANK = {"affected": 0, "under_investigation": 1, "fixed": 2, "not_affected": 3, "recommended": 4}
_PURL = re.compile(r"^pkg:(?P<type>[^/]+)/(?:(?P<ns>.+)/)?(?P<name>[^/@?#]+)(?:@(?P<ver>[^?#]+))?")


def is_csaf_index(data: bytes) -> str | None:
    """'rolie', 'provider-metadata' or 'aggregator' when the JSON is a CSAF discovery document, else None."""
    try:
        doc = load_json(data, ParseContext(), warn=False)  # a sniff: parse() warns if it comes to that
    except Exception:
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("feed"), dict) and "entry" in doc["feed"]:
        return "rolie"
    if "canonical_url" in doc and ("distributions" in doc or "publisher" in doc) and "document" not in doc:
        return "provider-metadata"
    if isinstance(doc.get("aggregator"), dict) and isinstance(doc.get("csaf_providers"), list) \
            and "document" not in doc:  # as csaf_discovery.is_aggregator (not imported: it needs the fetcher)
        return "aggregator"
    return None


@dataclass
class _Info:
    """What the tree says of one product id."""

    vendor: str = ""
    product: str = ""
    version: str | None = None
    range: str | None = None
    name: str = ""
    cpe: str | None = None
    purl: str | None = None
    platform: str | None = None
    relation: str | None = None
    helper: dict[str, Any] = field(default_factory=dict)


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
    tree: dict[str, Any] = doc["product_tree"] if isinstance(doc.get("product_tree"), dict) else {}
    infos = _products(tree)
    groups = _groups(tree)
    vulns = [v for v in doc.get("vulnerabilities") or [] if isinstance(v, dict)]
    published = iso_utc(tracking.get("initial_release_date"))
    updated = iso_utc(tracking.get("current_release_date"))
    revision = str(tracking.get("version") or "") or None
    url = _self_url(meta)
    per_vuln = []
    for n, vuln in enumerate(vulns, start=1):
        label = _vuln_label(vuln, n)
        products = _statuses(vuln, infos, groups, label)
        per_vuln.append((vuln, label, products))
    cves = sorted({str(v["cve"]).strip().upper() for v in vulns if v.get("cve")})
    scores = [s for v in vulns if (s := _max_score(v)) is not None]
    top = max(scores, default=None)
    # without a score the publisher's own word ("Important", "Moderate"): document.aggregate_severity
    aggregate = meta.get("aggregate_severity")
    worded = _word_severity(aggregate.get("text") if isinstance(aggregate, dict) else None)
    advisory_products = _merge([p for _, _, ps in per_vuln for p in ps])
    truncated = len(advisory_products) > MAX_PRODUCTS
    extra: dict[str, Any] = {
        "tracking_id": tracking_id, "publisher": (meta.get("publisher") or {}).get("name"),
        "csaf_version": meta.get("csaf_version"), "category": meta.get("category"),
    }
    if revision:
        extra["revision"] = revision
    if not vulns and infos:  # a tree without vulnerabilities declares nothing affected: names only
        extra["products_named"] = sorted({i.name or i.product for i in infos.values()})[:MAX_REMEDIATIONS]
    if truncated:
        extra["products_truncated"] = len(advisory_products)
    remediations = _dedupe([r for v, _, _ in per_vuln for r in _remediations(v, infos, groups)])
    if remediations:
        extra["remediations"] = remediations[:MAX_REMEDIATIONS]
    exploited = any(_exploited(v) for v in vulns)
    if exploited:
        extra["actively_exploited"] = True
    yield Item(
        kind="advisory", key=f"csaf:{tracking_id}", tlp=tlp, source_format="csaf",
        title=str(meta.get("title") or tracking_id), url=url or tracking_id,
        published=published, updated=updated,
        summary=sanitise_html(_note(meta.get("notes"), ("summary", "description", "general"))),
        cves=cves, products=_cap(advisory_products), cvss=top, severity=_severity(top) or worded, extra=extra,
    )
    for n, (vuln, label, products) in enumerate(per_vuln, start=1):
        cve = str(vuln.get("cve") or "").strip().upper() or None
        score = _max_score(vuln)
        vextra: dict[str, Any] = {"tracking_id": tracking_id, "advisory_key": f"csaf:{tracking_id}"}
        if revision:
            vextra["revision"] = revision
        if rems := _remediations(vuln, infos, groups):
            vextra["remediations"] = rems[:MAX_REMEDIATIONS]
        if threats := _threats(vuln):
            vextra["threats"] = threats
        if exploitation := _exploitation_dates(vuln):
            vextra["first_known_exploitation"] = exploitation[0]
        if not cve:
            vextra["id"] = label
        yield Item(
            kind="vulnerability", key=f"csaf:{tracking_id}:{cve or f'vuln-{n}'}", tlp=tlp, source_format="csaf",
            cve=cve, cves=[cve] if cve else [], title=vuln.get("title") or None, published=published,
            updated=updated,
            summary=sanitise_html(_note(vuln.get("notes"), ("description", "summary", "general"))),
            cvss=score, severity=_severity(score) or _impact_severity(vuln) or worded, url=url,
            products=_cap([with_fields(p, cves=()) for p in products]),
            known_exploited=True if _exploited(vuln) else None, extra=vextra,
        )


def _tlp(meta: dict[str, Any], ctx: ParseContext) -> str:
    dist = meta.get("distribution")
    label = ((dist or {}).get("tlp") or {}).get("label") if isinstance(dist, dict) else None
    if not label:
        return ctx.default_tlp.value_str
    try:
        return parse_tlp(str(label)).value_str
    except ValueError:
        return TLP.RED.value_str  # a label we cannot read is never treated as more open than written


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


def _vuln_label(vuln: dict[str, Any], n: int) -> str:
    if vuln.get("cve"):
        return str(vuln["cve"]).strip().upper()
    for ident in vuln.get("ids") or []:
        if isinstance(ident, dict) and ident.get("text"):
            return str(ident["text"])
    return f"#{n}"


def _max_score(vuln: dict[str, Any]) -> float | None:
    """The highest CVSS base score: 2.0 `scores[]`, 2.1 `metrics[].content` (CVSS 4.0, 3.x, 2.0)."""
    found: list[float] = []
    holders = [s for s in vuln.get("scores") or [] if isinstance(s, dict)]
    holders += [m["content"] for m in vuln.get("metrics") or []
                if isinstance(m, dict) and isinstance(m.get("content"), dict)]
    for holder in holders:
        for name in ("cvss_v4", "cvss_v3", "cvss_v2"):
            base = (holder.get(name) or {}).get("baseScore") if isinstance(holder.get(name), dict) else None
            if isinstance(base, int | float) and not isinstance(base, bool):
                found.append(float(base))
                break  # the newest CVSS version a holder gives is the one it means
    return max(found, default=None)


def _severity(score: float | None) -> str | None:
    if score is None:
        return None
    return "critical" if score >= 9 else "high" if score >= 7 else "medium" if score >= 4 else "low" \
        if score > 0 else None


_SEVERITY_WORDS = {
    "critical": "critical", "kritisch": "critical", "kritisk": "critical",
    "important": "high", "high": "high", "severe": "high", "hoch": "high", "høy": "high",
    "moderate": "medium", "medium": "medium", "mittel": "medium", "middels": "medium",
    "low": "low", "niedrig": "low", "lav": "low",
}


def _word_severity(text: Any) -> str | None:
    """A publisher's severity word ("Important" in Red Hat's, "hoch" in BSI's) as certmon's severity."""
    if not isinstance(text, str):
        return None
    return _SEVERITY_WORDS.get(text.strip().lower())


def _impact_severity(vuln: dict[str, Any]) -> str | None:
    """The severity word of an `impact` threat that is just that word (Red Hat: details "Important")."""
    for threat in vuln.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") == "impact" \
                and (found := _word_severity(threat.get("details"))) is not None:
            return found
    return None


def _exploited(vuln: dict[str, Any]) -> bool:
    if _exploitation_dates(vuln):  # CSAF 2.1: when it was first known to be exploited in the wild
        return True
    for threat in vuln.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") == "exploit_status":
            text = str(threat.get("details") or "").lower()
            if "exploited" in text and not any(w in text for w in ("not exploited", "no known", "not known")):
                return True
    return False


def _exploitation_dates(vuln: dict[str, Any]) -> list[str]:
    """The `exploitation_date`s of CSAF 2.1 `first_known_exploitation_dates`, as UTC timestamps."""
    dates = vuln.get("first_known_exploitation_dates")
    return sorted(d for e in dates if isinstance(e, dict) and (d := iso_utc(e.get("exploitation_date")))) \
        if isinstance(dates, list) else []


def _threats(vuln: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for threat in vuln.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") and threat.get("details"):
            out.append({"category": str(threat["category"]), "details": str(threat["details"])[:1000]})
    return out[:20]


def _parse_purl(purl: str) -> tuple[str, str, str, str | None] | None:
    """(type, namespace, name, version) of a purl, percent-decoded."""
    from urllib.parse import unquote

    m = _PURL.match(purl.strip())
    if not m:
        return None
    ns = unquote(m["ns"] or "")
    return m["type"].lower(), ns, unquote(m["name"]), unquote(m["ver"]) if m["ver"] else None


def _helper(info: _Info, product: Any) -> None:
    helper = product.get("product_identification_helper") if isinstance(product, dict) else None
    if not isinstance(helper, dict):
        return
    if isinstance(helper.get("cpe"), str):
        info.cpe = helper["cpe"]
    purls: list[Any] = helper["purls"] if isinstance(helper.get("purls"), list) else [helper.get("purl")]
    purl = next((p for p in purls if isinstance(p, str) and p.startswith("pkg:")), None)
    if purl:
        info.purl = purl
    kept = {k: helper[k] for k in ("model_numbers", "serial_numbers", "skus", "hashes", "x_generic_uris")
            if helper.get(k)}
    if kept:
        info.helper = kept


def _products(tree: dict[str, Any]) -> dict[str, _Info]:
    """product_id → what the tree says of it (branches, full_product_names, relationships, product_paths)."""
    infos: dict[str, _Info] = {}

    def add(product: Any, info: _Info) -> None:
        if not isinstance(product, dict) or not product.get("product_id"):
            return
        info.name = str(product.get("name") or info.name or "")
        _helper(info, product)
        infos.setdefault(str(product["product_id"]), info)

    def walk(branches: Any, ctx: dict[str, str], depth: int) -> None:
        if depth > _MAX_DEPTH or not isinstance(branches, list):
            return
        for branch in branches:
            if not isinstance(branch, dict):
                continue
            category, name = str(branch.get("category") or ""), str(branch.get("name") or "").strip()
            here = dict(ctx)
            if category in ("vendor", "product_name", "product_family", "product_version",
                            "product_version_range", "architecture", "language", "patch_level",
                            "service_pack", "specification", "host_name", "legacy"):
                here[category] = name
            if branch.get("product"):
                add(branch["product"], _from_context(here, category, name))
            walk(branch.get("branches"), here, depth + 1)

    walk(tree.get("branches"), {}, 0)
    for product in tree.get("full_product_names") or []:
        if isinstance(product, dict):
            add(product, _Info(product=str(product.get("name") or "")))
    for full, reference, hops in _links(tree):
        component = infos.get(reference)
        base = replace(component) if component else _Info(product=str(full.get("name") or ""))
        base.platform = ", ".join((infos[ref].name or infos[ref].product) if ref in infos else ref
                                  for _, ref in hops) or None
        base.relation = (hops[0][0] or None) if hops else None
        base.helper = dict(base.helper)
        add(full, base)
        if full.get("name"):
            infos[str(full["product_id"])].name = str(full["name"])
    for info in infos.values():
        _fill_from_identifiers(info)
    return infos


def _links(tree: dict[str, Any]) -> list[tuple[dict[str, Any], str, list[tuple[str, str]]]]:
    """(full product name, component id, [(category, platform id), …]) of each CSAF 2.0 relationship and
    2.1 product path (`beginning_product_reference` and its `subpaths`, in order)."""
    out: list[tuple[dict[str, Any], str, list[tuple[str, str]]]] = []
    for rel in tree.get("relationships") or []:
        if isinstance(rel, dict) and isinstance(rel.get("full_product_name"), dict) \
                and rel["full_product_name"].get("product_id"):
            out.append((rel["full_product_name"], str(rel.get("product_reference")),
                        [(str(rel.get("category") or ""), str(rel.get("relates_to_product_reference")))]))
    for path in tree.get("product_paths") or []:
        if not isinstance(path, dict) or not isinstance(path.get("full_product_name"), dict) \
                or not path["full_product_name"].get("product_id"):
            continue
        hops = [(str(sub.get("category") or ""), str(sub.get("next_product_reference")))
                for sub in path.get("subpaths") or [] if isinstance(sub, dict)]
        out.append((path["full_product_name"], str(path.get("beginning_product_reference")), hops))
    return out


def _from_context(ctx: dict[str, str], category: str, name: str) -> _Info:
    """Vendor, product and version from the branch path of a leaf."""
    vendor = ctx.get("vendor", "")
    product = ctx.get("product_name") or ctx.get("product_family") or ""
    version = ctx.get("product_version")
    rng = ctx.get("product_version_range")
    build = ctx.get("service_pack") or ctx.get("patch_level")
    if build and not rng:  # Cisco: train 12.2SE, release 12.2(55)SE; elsewhere "10" + "SP1"
        version = build if build[:1].isdigit() or not version else f"{version} {build}"
    if not product and category in ("product_version", "product_version_range"):
        # a version directly under a vendor (Red Hat's package builds): the branch is the product
        product, version, rng = name, None, None
    return _Info(vendor=vendor, product=product, version=version, range=rng)


def _fill_from_identifiers(info: _Info) -> None:
    """Where the tree has no vendor/product/version, take them from the purl or CPE."""
    if info.purl:
        parsed = _parse_purl(info.purl)
        if parsed is not None and not info.version and not info.range and parsed[3]:
            if not info.vendor or not info.product or info.product == info.name:
                info.vendor = info.vendor or parsed[1] or parsed[0]
                info.product = parsed[2]
            info.version = parsed[3]
    if info.cpe and (not info.product or not info.vendor):
        from certmon.matching.products import parse_cpe

        cpe = parse_cpe(info.cpe)
        if cpe is not None:
            info.vendor = info.vendor or cpe[0]
            info.product = info.product or cpe[1]
            if not info.version and not info.range and cpe[2]:
                info.version = cpe[2]


def _groups(tree: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in tree.get("product_groups") or []:
        if isinstance(group, dict) and group.get("group_id"):
            out[str(group["group_id"])] = [str(p) for p in group.get("product_ids") or []]
    return out


def _ids(holder: dict[str, Any], groups: dict[str, list[str]]) -> list[str]:
    ids = [str(p) for p in holder.get("product_ids") or []]
    for gid in holder.get("group_ids") or []:
        ids += groups.get(str(gid), [])
    return ids


def _product(info: _Info, **kw: Any) -> Product:
    return Product(
        vendor=info.vendor, product=info.product or info.name, version=info.version or None,
        range=info.range or None, cpe=info.cpe, purl=info.purl, platform=info.platform,
        relation=info.relation, name=info.name or None, **kw,
    )


def _statuses(vuln: dict[str, Any], infos: dict[str, _Info], groups: dict[str, list[str]],
              label: str) -> list[Product]:
    """The vulnerability's products with their status; first_/last_ versions become ranges."""
    status: dict[str, Any] = vuln["product_status"] if isinstance(vuln.get("product_status"), dict) else {}
    justification = _justifications(vuln, groups)
    out: list[Product] = []
    bounds: dict[tuple[str, str, str | None], dict[str, list[tuple[str, str]]]] = {}
    for key, word in _STATUS.items():
        for pid in status.get(key) or []:
            pid = str(pid)
            info = infos.get(pid) or _Info(product=pid, name=pid)
            if key in ("first_affected", "last_affected", "first_fixed") and info.version and not info.range:
                family = (info.vendor, info.product, info.platform)
                bounds.setdefault(family, {}).setdefault(key, []).append((info.version, pid))
                continue
            out.append(_product(info, status=word, cves=(label,), product_id=pid,
                                justification=justification.get(pid) if word == "not_affected" else None))
    for family, found in bounds.items():
        out += _bounded(family, found, infos, label)
    return out


def _bounded(family: tuple[str, str, str | None], found: dict[str, list[tuple[str, str]]],
             infos: dict[str, _Info], label: str) -> list[Product]:
    """first_affected / last_affected / first_fixed versions of one product as vers ranges.

    The bounds are read in version order as a sweep, so that several release lines stay apart
    (`first_affected` 1.0 and 2.0, `first_fixed` 1.5 and 2.3: 1.0–1.4 and 2.0–2.2 affected, 1.5–1.x
    and 2.3 on fixed); one line gives the ranges it always gave. Below the lowest bound a product is
    affected only when that bound is a `last_affected`: a `first_fixed` says nothing of the versions
    before it. So when a `first_fixed` follows another with no `first_affected` between, the earlier
    fix holds to the end of its own release line (`first_fixed` 7.0.15 and 7.4.4: 7.0.15 up to 7.1
    and 7.4.4 on fixed; 7.1 up to 7.4.4 unlisted, not fixed), and a `last_affected` after a fix makes
    its own line affected (`first_fixed` 1.5, `last_affected` 2.2: 2 up to 2.2). The versions that do
    not compare (prose, odd builds) become statements about that one version.
    """
    from certmon.matching.vers import V, VersionError

    def version_of(text: str) -> V | None:
        try:
            return V(text)
        except VersionError:
            return None

    events: list[tuple[V, int, str]] = []
    odd: list[tuple[str, str, str]] = []  # (key, version, product id) of versions that do not compare
    for key, values in found.items():
        for version, pid in values:
            at = version_of(version)
            if at is None:
                odd.append((key, version, pid))
            else:
                events.append((at, _BOUND_ORDER[key], version))
    events.sort(key=lambda e: (e[0], e[1]))
    out = [_product(replace(infos.get(pid) or _Info(vendor=family[0], product=family[1], version=version),
                            version=version, range=""),
                    status="fixed" if key == "first_fixed" else "affected", cves=(label,), product_id=pid)
           for key, version, pid in odd]
    if not events:
        return out
    parsed: dict[str, V | None] = {version: at for at, _, version in events}

    def v(text: str) -> V | None:
        if text not in parsed:
            parsed[text] = version_of(text)
        return parsed[text]

    # Segments of the version line: (status, low, low inclusive, high, high inclusive); None: open.
    segments: list[tuple[str, str | None, bool, str | None, bool]] = []
    state: str | None = "affected" if events[0][1] == 1 else None  # below the lowest bound
    low: str | None = None
    low_incl = True
    fix: str | None = None  # the version of the last first_fixed

    def close(high: str | None, high_incl: bool) -> None:
        empty = low is not None and high is not None and v(low) == v(high) and not (low_incl and high_incl)
        if state is not None and not empty:
            segments.append((state, low, low_incl, high, high_incl))

    def end_fix_line(before: V) -> None:
        """Close the fixed segment at the end of its release line, when that line ends before `before`."""
        nonlocal state, low, low_incl
        end = _next_line(fix) if fix is not None else None
        at_end = v(end) if end is not None else None
        if state == "fixed" and at_end is not None and at_end <= before:
            close(end, False)
            state, low, low_incl = None, end, True

    for at, order, version in events:
        if order == 0:  # first_affected: the first affected version of a release line
            if state != "affected":
                close(version, False)
                state, low, low_incl = "affected", version, True
            continue
        if order == 1:  # last_affected: affected up to and including it
            # after a fix, the affected part starts with this version's own release line
            start, line = version, _line_start(version)
            if line is not None and fix is not None:
                at_line, fixed = v(line), v(fix)
                if at_line is not None and fixed is not None and fixed < at_line < at:
                    start = line
            end_fix_line(v(start) or at)
            if state is None and segments and segments[-1][0] == "affected" and segments[-1][3] == low:
                state, low, low_incl = segments.pop()[:3]  # an earlier line's end: affected up to here
            elif state != "affected":
                close(start, False)
                state, low, low_incl = "affected", start, True
            close(version, True)
            state, low, low_incl = None, version, False
            continue
        end_fix_line(at)  # a further first_fixed with no first_affected between: another line's fix
        if state != "fixed":
            close(version, False)
            state, low, low_incl = "fixed", version, True
        fix = version
    close(None, True)

    def vers(status: str) -> str | None:
        parts: list[str] = []
        for word, lo, lo_incl, hi, hi_incl in segments:
            if word != status:
                continue
            if lo is not None:
                parts.append((">=" if lo_incl else ">") + lo)
            if hi is not None:
                parts.append(("<=" if hi_incl else "<") + hi)
        return "vers:generic/" + "|".join(parts) if parts else None

    def bound(key: str) -> tuple[str, str] | None:
        known = [(at, pair) for pair in found.get(key) or [] if (at := parsed.get(pair[0])) is not None]
        values = [pair for _, pair in sorted(known, key=lambda entry: entry[0])]
        return (values[-1] if key == "last_affected" else values[0]) if values else None

    first_a, last_a, first_f = bound("first_affected"), bound("last_affected"), bound("first_fixed")
    pid_of = (first_a or last_a or first_f or ("", ""))[1]
    info = infos.get(pid_of) or _Info(vendor=family[0], product=family[1])
    base = replace(info, version=None)
    if (affected := vers("affected")) is not None:
        out.append(_product(replace(base, range=affected), status="affected", cves=(label,), product_id=pid_of))
    if first_f and (fixed_range := vers("fixed")) is not None:
        out.append(_product(replace(base, range=fixed_range), status="fixed", cves=(label,),
                            product_id=first_f[1]))
    return out


_BOUND_ORDER = {"first_affected": 0, "last_affected": 1, "first_fixed": 2}  # at one version: in this order
_LINE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)\.\d+$")


def _line_start(version: str) -> str | None:
    """The release line a dotted version belongs to ('7.2.8' → '7.2'), None if it has one part or is not dotted."""
    found = _LINE.match(version.strip())
    return found.group(1) if found else None


def _next_line(version: str) -> str | None:
    """The start of the release line after that of a dotted version ('7.0.15' → '7.1', '1.5' → '2')."""
    line = _line_start(version)
    if line is None:
        return None
    head, _, last = line.rpartition(".")
    return f"{head}.{int(last) + 1}" if head else str(int(last) + 1)


def _justifications(vuln: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, str]:
    """product id → the VEX flag label (e.g. vulnerable_code_not_present) or impact statement."""
    out: dict[str, str] = {}
    for flag in vuln.get("flags") or []:
        if isinstance(flag, dict) and flag.get("label"):
            for pid in _ids(flag, groups):
                out.setdefault(pid, str(flag["label"]))
    for threat in vuln.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") == "impact" and threat.get("details"):
            for pid in _ids(threat, groups):
                out.setdefault(pid, str(threat["details"])[:300])
    return out


def _remediations(vuln: dict[str, Any], infos: dict[str, _Info], groups: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for rem in vuln.get("remediations") or []:
        if not isinstance(rem, dict) or not rem.get("category"):
            continue
        names = sorted({(infos[p].name or infos[p].product) if p in infos else p for p in _ids(rem, groups)})
        entry: dict[str, Any] = {"category": str(rem["category"]),
                                 "details": str(rem.get("details") or "")[:2000]}
        if rem.get("url"):
            entry["url"] = str(rem["url"])
        if names:
            entry["products"] = names[:20]
            if len(names) > 20:
                entry["products_more"] = len(names) - 20
        out.append(entry)
    return out


def _dedupe(rems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rems:
        seen.setdefault((r["category"], r["details"], r.get("url", "")), r)
    return list(seen.values())


def _merge(products: list[Product]) -> list[Product]:
    """One entry per product and status (and justification), with every CVE it holds for."""
    merged: dict[tuple[Any, ...], Product] = {}
    for p in products:
        key = (p.product_id, p.vendor, p.product, p.version, p.range, p.platform, p.status, p.justification)
        current = merged.get(key)
        if current is None:
            merged[key] = p
        else:
            merged[key] = with_fields(current, cves=tuple(dict.fromkeys(current.cves + p.cves)))
    return list(merged.values())


def _cap(products: list[Product]) -> list[Product]:
    """At most MAX_PRODUCTS, affected ones first (what matching must not lose)."""
    if len(products) <= MAX_PRODUCTS:
        return products
    ranked = sorted(products, key=lambda p: _RANK.get(p.status or "affected", 9))
    return ranked[:MAX_PRODUCTS]
