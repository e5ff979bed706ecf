"""Load the bundled real registry (municipalities, counties, health enterprises); idempotent."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.registry.models import Asset, Constituent, ConstituentRole
from certmon.registry.service import bump_registry_version
from certmon.registry.validation import normalise_domain


@dataclass
class SeedReport:
    """What a seed run did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0  # kept without an organisation number, to be filled in


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("certmon.registry").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _apply(c: Constituent, values: dict[str, object], report: SeedReport, new: bool) -> None:
    changed = False
    for field, value in values.items():
        if getattr(c, field) != value:
            setattr(c, field, value)
            changed = True
    if new:
        report.created += 1
    elif changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _website_asset(session: Session, c: Constituent, website: str | None) -> None:
    if not website:
        return
    domain = normalise_domain(website)
    exists = session.scalar(
        select(Asset.id).where(Asset.constituent_id == c.id, Asset.type == "domain", Asset.value == domain)
    )
    if exists is None:
        session.add(Asset(constituent_id=c.id, type="domain", value=domain, note="nettsted fra registeret"))


def seed_registry(session: Session) -> SeedReport:
    """Create or update every bundled constituent; never duplicates, never deletes."""
    report = SeedReport()
    by_org = {c.org_number: c for c in session.scalars(select(Constituent)) if c.org_number}
    by_knr = {c.municipality_number: c for c in by_org.values() if c.municipality_number}
    by_knr.update(
        {c.municipality_number: c for c in session.scalars(select(Constituent)) if c.municipality_number}
    )

    for row in _rows("municipalities.csv"):
        org = row["organisasjonsnummer"].strip() or None
        knr = row["kommunenummer"].strip()
        c = by_knr.get(knr) or (by_org.get(org) if org else None)
        new = c is None
        if c is None:
            c = Constituent(kind="kommune", name=row["name"])
            session.add(c)
        if c.org_number and not org:
            org = c.org_number  # filled in by someone since; keep it
        _apply(c, {
            "org_number": org, "municipality_number": knr, "name": row["name"],
            "name_alt": row["name_alt"] or None, "kind": "kommune", "county_number": row["county_number"],
            "county_name": row["county_name"], "website": row["website"] or None,
            "needs_org_number": org is None,
        }, report, new)
        report.flagged += org is None
        if org:
            by_org[org] = c
        by_knr[knr] = c

    for row in _rows("counties.csv"):
        org = row["organisasjonsnummer"].strip()
        c = by_org.get(org)
        if c is not None and c.kind == "kommune":
            # Oslo: one organisation, both roles.
            if "fylkeskommune" not in {r.role for r in c.roles}:
                c.roles.append(ConstituentRole(role="fylkeskommune"))
                report.updated += 1
            continue
        new = c is None
        if c is None:
            c = Constituent(kind="fylkeskommune", name=row["name"])
            session.add(c)
        _apply(c, {"org_number": org, "name": row["name"], "kind": "fylkeskommune",
                   "county_number": row["county_number"], "county_name": row["name"],
                   "website": row["website"] or None}, report, new)
        by_org[org] = c

    rows = _rows("health_enterprises.csv")
    for row in rows:
        org = row["organisasjonsnummer"].strip()
        c = by_org.get(org)
        new = c is None
        if c is None:
            c = Constituent(kind="other", name=row["name"])
            session.add(c)
        kind = {"RHF": "rhf", "HF": "hf"}.get(row["type"], "other")
        _apply(c, {"org_number": org, "name": row["name"], "kind": kind,
                   "region": row["region"] or None, "website": row["website"] or None}, report, new)
        by_org[org] = c
    session.flush()
    by_name = {c.name: c for c in by_org.values()}
    for row in rows:
        parent = by_name.get(row["parent_rhf"]) if row["parent_rhf"] else None
        child = by_org[row["organisasjonsnummer"].strip()]
        if parent is not None and child.parent_id != parent.id:
            child.parent_id = parent.id

    for c in list(by_org.values()) + [c for c in by_knr.values() if not c.org_number]:
        _website_asset(session, c, c.website)
    session.flush()
    if report.created or report.updated:
        bump_registry_version(session)
    return report
