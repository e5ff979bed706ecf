"""Registry services: listing, lookup, version tracking, and all-or-nothing CSV imports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.errors import NotFound, ValidationFailed
from certmon.registry.models import KINDS, AppState, Constituent, ConstituentRole
from certmon.registry.validation import (
    municipality_number_problem,
    normalise_domain,
    normalise_org_number,
    org_number_problem,
)

VERSION_KEY = "registry_version"


def registry_version(session: Session) -> str:
    """An opaque token that changes whenever constituents or assets change."""
    state = session.get(AppState, VERSION_KEY)
    return state.value if state else "0"


def bump_registry_version(session: Session) -> str:
    """Mark the registry as changed so matchers rebuild their indexes."""
    state = session.get(AppState, VERSION_KEY)
    token = uuid.uuid4().hex
    if state is None:
        session.add(AppState(key=VERSION_KEY, value=token))
    else:
        state.value = token
    return token


def display_name(c: Constituent) -> str:
    """Name as people write it: `Bergen kommune`, `Vestland fylkeskommune`, `Helse Bergen HF`."""
    lowered = c.name.lower()
    if c.kind == "kommune" and not lowered.endswith((" kommune", " herad")):
        return f"{c.name} kommune"
    if c.kind == "fylkeskommune" and not lowered.endswith("fylkeskommune"):
        return f"{c.name} fylkeskommune"
    return c.name


def list_constituents(
    session: Session, *, kind: str | None = None, q: str | None = None, county: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[Constituent], int]:
    """Constituents filtered by kind (roles included: Oslo is also a fylkeskommune), text, county."""
    stmt = select(Constituent)
    if kind:
        if kind not in KINDS:
            raise ValidationFailed(f"ukjent type {kind!r}; gyldige typer: {', '.join(KINDS)}")
        has_role = select(ConstituentRole.constituent_id).where(ConstituentRole.role == kind)
        stmt = stmt.where(or_(Constituent.kind == kind, Constituent.id.in_(has_role)))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Constituent.name.ilike(like), Constituent.org_number.like(like),
                              Constituent.municipality_number.like(like)))
    if county:
        stmt = stmt.where(Constituent.county_number == county)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Constituent.name, Constituent.id).limit(limit).offset(offset))
    return list(rows), total


def get_constituent(session: Session, *, constituent_id: int) -> Constituent:
    """One constituent or NotFound."""
    c = session.get(Constituent, constituent_id)
    if c is None:
        raise NotFound(f"fant ingen virksomhet med id {constituent_id}")
    return c


def find_by_org_number(session: Session, org_number: str) -> Constituent | None:
    """Look a constituent up by organisation number."""
    return session.scalar(select(Constituent).where(Constituent.org_number == org_number))


@dataclass
class ImportReport:
    """Outcome of an all-or-nothing import."""

    created: int = 0
    updated: int = 0


def read_csv(text: str, required: Sequence[str], optional: Sequence[str] = ()) -> list[dict[str, str]]:
    """Parse CSV text with a header; raise ValidationFailed naming missing or unknown columns."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValidationFailed(
            "filen mangler kolonne(r): " + ", ".join(missing),
            [f"rad 1 (overskrift): mangler {c}" for c in missing],
        )
    unknown = [h for h in header if h not in required and h not in optional]
    if unknown:
        raise ValidationFailed("ukjente kolonner: " + ", ".join(unknown),
                               [f"rad 1 (overskrift): ukjent kolonne {h}" for h in unknown])
    rows = []
    for raw in reader:
        rows.append({(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None})
    if not rows:
        raise ValidationFailed("filen har ingen rader")
    return rows


def import_constituents(session: Session, text: str, *, actor: str = "cli") -> ImportReport:
    """Import `org_number,name,kind[,county_number,region,website,municipality_number]`; all or nothing."""
    rows = read_csv(text, ("org_number", "name", "kind"),
                    ("county_number", "region", "website", "municipality_number"))
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        org = normalise_org_number(row["org_number"])
        row["org_number"] = org
        if (why := org_number_problem(org)) is not None:
            problems.append(f"rad {n}, org_number: {why} ({row['org_number']!r})")
        elif org in seen:
            problems.append(f"rad {n}, org_number: {org} står også på rad {seen[org]}")
        seen.setdefault(org, n)
        if not row["name"]:
            problems.append(f"rad {n}, name: navn mangler")
        if row["kind"] not in KINDS:
            problems.append(f"rad {n}, kind: {row['kind']!r} er ikke en av {', '.join(KINDS)}")
        knr = row.get("municipality_number", "")
        if knr and (why := municipality_number_problem(knr)) is not None:
            problems.append(f"rad {n}, municipality_number: {why} ({knr!r})")
        elif knr:
            holder = session.scalar(select(Constituent).where(Constituent.municipality_number == knr))
            if holder is not None and holder.org_number not in (None, org):
                problems.append(f"rad {n}, municipality_number: {knr} tilhører allerede "
                                f"{holder.name} ({holder.org_number})")
        cnr = row.get("county_number", "")
        if cnr and (len(cnr) != 2 or not cnr.isdigit()):
            problems.append(f"rad {n}, county_number: fylkesnummeret må ha 2 siffer ({cnr!r})")
    if problems:
        raise ValidationFailed(f"importen ble avvist: {len(problems)} feil, ingenting ble importert", problems)

    report = ImportReport()
    for row in rows:
        c = find_by_org_number(session, row["org_number"])
        if c is None and row.get("municipality_number"):
            # e.g. a municipality kept without an organisation number until someone fills it in
            c = session.scalar(select(Constituent).where(
                Constituent.municipality_number == row["municipality_number"]))
            if c is not None:
                c.org_number, c.needs_org_number = row["org_number"], False
        if c is None:
            c = Constituent(org_number=row["org_number"], name=row["name"], kind=row["kind"])
            session.add(c)
            report.created += 1
        else:
            report.updated += 1
        c.name, c.kind = row["name"], row["kind"]
        for field in ("county_number", "region", "municipality_number"):
            if row.get(field):
                setattr(c, field, row[field])
        if row.get("website"):
            c.website = normalise_domain(row["website"])
    session.flush()
    bump_registry_version(session)
    record(session, actor=actor, action="registry.import", entity_type="registry", entity_id="*",
           created=report.created, updated=report.updated)
    return report
