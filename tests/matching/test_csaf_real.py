"""Real published CSAF documents → parse → match: exactly the organisations a document declares affected.

For every document in tests/fixtures/csaf/real (the CSAF standard's own 2.0 and 2.1 examples, VEX use
cases and Red Hat advisories among them, and real CISA ICS/IT advisories; see PROVENANCE.md) one
organisation is made per product the tree names, running that product's version (for a version
range: versions just inside and just outside each bound). What the organisation should get is read
straight from the document's product status lists by product id — an oracle that shares nothing with
the matcher but the product's name — and ranges are judged with univers' own `vers` implementation:
- declared affected (known/first/last affected) → a match;
- under investigation → a possible match (never sent automatically);
- fixed, not affected, recommended, or not listed → no match.
Products whose status is implied by first_/last_ bounds rather than listed are left out of the
oracle (their count is printed), as are names an inventory line cannot hold.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from univers.version_range import VersionRange
from univers.versions import SemverVersion

from certmon.matching.engine import MatchEngine
from certmon.matching.products import parse_inventory
from certmon.matching.snapshot import AssetRef, ConstituentRef, RegistrySnapshot
from feeds.base import ParseContext
from feeds.csaf import parse as parse_csaf
from tests.conftest import FIXTURES

DOCS = sorted((FIXTURES / "csaf" / "real").rglob("*.json"))
AFFECTED = {"known_affected", "first_affected", "last_affected"}
BOUNDS = {"first_affected", "last_affected", "first_fixed"}
_NUM = re.compile(r"^\d+(?:\.\d+){0,2}$")


def _leaves(doc: dict[str, Any]) -> dict[str, tuple[str, str, str | None, str | None]]:
    """product id → (vendor, product, version, range) as the branch path names it."""
    out: dict[str, tuple[str, str, str | None, str | None]] = {}

    def walk(branches: list[dict[str, Any]], path: dict[str, str]) -> None:
        for b in branches or []:
            here = {**path, b.get("category", ""): str(b.get("name", "")).strip()}
            if "product" in b:
                product = here.get("product_name") or here.get("product_family")
                version = here.get("product_version")
                sp = here.get("service_pack") or here.get("patch_level")
                if sp:
                    version = sp if sp[:1].isdigit() or not version else f"{version} {sp}"
                if product:
                    out[b["product"]["product_id"]] = (here.get("vendor", ""), product, version,
                                                       here.get("product_version_range"))
            walk(b.get("branches", []), here)

    walk(doc.get("product_tree", {}).get("branches", []), {})
    return out


def _statuses(doc: dict[str, Any]) -> dict[str, list[str]]:
    """product id (a tree leaf) → the status words the vulnerabilities give it (directly or as a component)."""
    tree = doc.get("product_tree", {})
    components = {r["full_product_name"]["product_id"]: r["product_reference"]
                  for r in tree.get("relationships", []) or []}
    components |= {p["full_product_name"]["product_id"]: p["beginning_product_reference"]  # CSAF 2.1
                   for p in tree.get("product_paths", []) or []}
    out: dict[str, list[str]] = {}
    for vuln in doc.get("vulnerabilities", []):
        for word, ids in (vuln.get("product_status") or {}).items():
            for pid in ids:
                out.setdefault(components.get(pid, pid), []).append(word)
    return out


def _expect(words: list[str]) -> str:
    if AFFECTED & set(words):
        return "affected"
    if "under_investigation" in words:
        return "under_investigation"
    return "none"


def _univers_range(text: str) -> VersionRange | None:
    """The range in univers' own vers form, or None when it is prose univers does not read."""
    t = re.sub(r"\([^)]*\)", "", text).strip()
    t = re.sub(r"(?<![\w.])[vV](?=\d)", "", t)
    if t.lower() in ("all versions", "vers:all/*", "*"):
        return VersionRange.from_string("vers:generic/*")
    if t.startswith("vers:"):
        t = "vers:generic/" + t.split("/", 1)[1]
    elif re.fullmatch(r"(?:[<>]=?|=)?\s*[\d.]+(?:\s*\|\s*(?:[<>]=?|=)?\s*[\d.]+)*", t):
        t = "vers:generic/" + t
    else:
        return None
    t = t.replace(" ", "")
    versions = re.findall(r"[\d][\d.]*", t.split("/", 1)[1])
    if not versions or not all(_NUM.match(v) for v in versions):
        return None  # univers' generic (semver) order would misread four-part builds
    try:
        return VersionRange.from_string(t)
    except Exception:
        return None


def _candidates(rng: VersionRange) -> list[str]:
    out = {"0.0.1", "999.0"}
    for c in rng.constraints:
        v = str(c.version)
        if not _NUM.match(v):  # '*': every version
            continue
        parts = [int(p) for p in v.split(".")]
        out.add(".".join(map(str, parts)))
        out.add(".".join(map(str, [*parts[:-1], parts[-1] + 1])))
        if parts[-1] > 0:
            out.add(".".join(map(str, [*parts[:-1], parts[-1] - 1])))
    return sorted(out)


def _orgs(doc: dict[str, Any]) -> tuple[list[tuple[str, str, str]], Counter[str]]:
    """(inventory value, expected verdict, why) per organisation; and what was left out."""
    leaves, statuses, skipped = _leaves(doc), _statuses(doc), Counter[str]()
    bounded = {(leaves[p][0].lower(), leaves[p][1].lower()) for p, words in statuses.items()
               if p in leaves and BOUNDS & set(words)}
    exact: dict[tuple[str, str, str], list[str]] = {}
    ranges: dict[tuple[str, str], list[tuple[VersionRange | None, list[str]]]] = {}
    for pid, (vendor, product, version, rng) in leaves.items():
        family = (vendor.lower(), product.lower())
        if not vendor or ":" in vendor or ":" in product:
            skipped["name an inventory line cannot hold"] += 1
            continue
        if version and not rng:
            exact.setdefault((vendor, product, version), []).extend(statuses.get(pid, []) or ["(not listed)"])
        elif rng:
            ranges.setdefault(family, []).append((_univers_range(rng), statuses.get(pid, [])))
    orgs = []
    for (vendor, product, version), words in exact.items():
        family = (vendor.lower(), product.lower())
        if family in bounded and not set(words) - {"(not listed)"}:
            skipped["status implied by first/last bounds"] += 1
            continue
        if family in ranges:
            skipped["an exact version beside ranges of the same product"] += 1
            continue
        value = f"{vendor}:{product}:{version}"
        try:
            parse_inventory(value)
        except ValueError:
            skipped["a version text an inventory line cannot hold (EU, prose)"] += 1
            continue
        orgs.append((value, _expect(words), f"{version}: {sorted(set(words))}"))
    for family, specs in ranges.items():
        vendor, product = next((leaves[p][0], leaves[p][1]) for p in leaves
                               if (leaves[p][0].lower(), leaves[p][1].lower()) == family)
        if any(r is None for r, _ in specs):
            skipped["range prose univers does not read"] += len(specs)
            continue
        if any(v[:2] == (vendor, product) for v in exact):
            continue
        for candidate in sorted({c for r, _ in specs if r is not None for c in _candidates(r)}):
            inside = [words for r, words in specs if r is not None and SemverVersion(candidate) in r]
            if len(inside) > 1:
                skipped["a version inside two ranges"] += 1
                continue
            words = inside[0] if inside else []
            orgs.append((f"{vendor}:{product}:{candidate}", _expect(words), f"{candidate}: {sorted(set(words))}"))
    return orgs, skipped


def _check(path: Path) -> tuple[int, int, Counter[str], list[str]]:
    doc = json.loads(path.read_bytes())
    orgs, skipped = _orgs(doc)
    refs = [ConstituentRef(id=n, org_number=f"9{n:08d}", name=f"Org {n}", kind="kommune")
            for n in range(1, len(orgs) + 1)]
    assets = [AssetRef(id=n, constituent_id=n, type="product", value=value)
              for n, (value, _, _) in enumerate(orgs, start=1)]
    engine = MatchEngine.build(RegistrySnapshot(version="t", constituents=refs, assets=assets))
    assert not engine.rejected, engine.rejected
    advisory = next(i for i in parse_csaf(path.read_bytes(), ParseContext()) if i.kind == "advisory")
    got = {r.constituent_id: r for r in engine.match(advisory) if r.rule == "product"}
    wrong = []
    for n, (value, expected, why) in enumerate(orgs, start=1):
        result = got.get(n)
        said = "none" if result is None else (result.status or "affected")
        if said != expected:
            wrong.append(f"{path.name}: {value} expected {expected}, got {said} ({why}); "
                         f"{result.explanation if result else ''}")
    return len(orgs), len(orgs) - len(wrong), skipped, wrong


@pytest.mark.parametrize("path", DOCS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_document_matches_exactly_the_declared(path: Path) -> None:
    total, right, _skipped, wrong = _check(path)
    assert not wrong, "\n".join(wrong[:20])
    assert right == total


def test_corpus_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole corpus: how many organisations were judged right (printed for the closing note)."""
    totals, rights, skipped, docs_right = 0, 0, Counter[str](), 0
    for path in DOCS:
        total, right, skip, _ = _check(path)
        totals, rights = totals + total, rights + right
        skipped.update(skip)
        docs_right += right == total
    with capsys.disabled():
        print(f"\nCSAF corpus: {docs_right}/{len(DOCS)} documents right, {rights}/{totals} organisations; "
              f"left out: {dict(skipped)}")
    assert len(DOCS) >= 60 and docs_right == len(DOCS) and totals > 1000
