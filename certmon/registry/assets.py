"""Assets of constituents: validation, add/remove, and the all-or-nothing `assets import`."""

from __future__ import annotations

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.errors import NotFound, ValidationFailed
from certmon.matching.products import parse_inventory
from certmon.registry.models import ASSET_TYPES, Asset, Constituent
from certmon.registry.service import (
    ImportReport,
    bump_registry_version,
    find_by_org_number,
    read_csv,
)
from certmon.registry.validation import normalise_domain, normalise_org_number, org_number_problem

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_PRODUCT_RE = re.compile(r"^[^:\s][^:]*:[^:\s][^:]*(:[^:]+)?$")


def normalise_asset(asset_type: str, value: str) -> str:
    """Canonical form of an asset value; raises ValueError with a reason in bokmål."""
    value = value.strip()
    if asset_type not in ASSET_TYPES:
        raise ValueError(f"ukjent asset_type {asset_type!r}; gyldige: {', '.join(ASSET_TYPES)}")
    if not value:
        raise ValueError("verdien mangler")
    if asset_type == "network":
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} er ikke et IPv4- eller IPv6-nettverk (CIDR)") from None
        if str(net) != value and "/" in value and net.network_address != ipaddress.ip_interface(value).ip:
            raise ValueError(f"{value!r} har vertsbiter satt; mente du {net}?")
        return str(net)
    if asset_type == "asn":
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit() or not 0 < int(digits) < 2**32:
            raise ValueError(f"{value!r} er ikke et AS-nummer")
        return str(int(digits))
    if asset_type in ("domain", "email_domain"):
        domain = normalise_domain(value.lstrip("@*."))
        if not _DOMAIN_RE.match(domain):
            raise ValueError(f"{value!r} er ikke et gyldig domenenavn")
        return domain
    if asset_type == "product":
        if value.lower().startswith("cpe:2.3:"):
            if len(value.split(":")) < 6:
                raise ValueError(f"{value!r} er ikke en gyldig CPE 2.3-streng")
            return value.lower()
        if not value.startswith("pkg:") and not _PRODUCT_RE.match(value):
            raise ValueError("produkt må skrives leverandør:produkt[:versjon eller versjonsområde], "
                             "som CPE 2.3 eller som purl")
        try:
            parse_inventory(value)
        except ValueError as exc:
            raise ValueError(f"produkt {value!r}: {exc}") from None
        return value
    org = normalise_org_number(value)
    if (why := org_number_problem(org)) is not None:
        raise ValueError(f"leverandørens organisasjonsnummer: {why}")
    return org


def add_asset(
    session: Session, *, constituent_id: int, asset_type: str, value: str, note: str | None = None,
    actor: str = "system", demo: bool = False,
) -> Asset:
    """Register one asset (idempotent) and bump the registry version."""
    if session.get(Constituent, constituent_id) is None:
        raise NotFound(f"fant ingen virksomhet med id {constituent_id}")
    try:
        canonical = normalise_asset(asset_type, value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [f"{asset_type}: {exc}"]) from None
    if asset_type == "supplier" and find_by_org_number(session, canonical) is None:
        raise ValidationFailed(f"leverandøren {canonical} finnes ikke i registeret")
    existing = session.scalar(select(Asset).where(
        Asset.constituent_id == constituent_id, Asset.type == asset_type, Asset.value == canonical))
    if existing is not None:
        return existing
    asset = Asset(constituent_id=constituent_id, type=asset_type, value=canonical, note=note, demo=demo)
    session.add(asset)
    session.flush()
    bump_registry_version(session)
    record(session, actor=actor, action="asset.add", entity_type="constituent", entity_id=constituent_id,
           asset_type=asset_type, value=canonical)
    return asset


def delete_asset(session: Session, *, constituent_id: int, asset_id: int, actor: str = "system") -> None:
    """Remove an asset and bump the registry version."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.constituent_id != constituent_id:
        raise NotFound(f"fant ingen ressurs med id {asset_id} på virksomhet {constituent_id}")
    session.delete(asset)
    bump_registry_version(session)
    record(session, actor=actor, action="asset.delete", entity_type="constituent", entity_id=constituent_id,
           asset_type=asset.type, value=asset.value)


def import_assets(session: Session, text: str, *, actor: str = "cli") -> ImportReport:
    """Import `org_number,asset_type,value` rows; every bad row is named and nothing is imported."""
    rows = read_csv(text, ("org_number", "asset_type", "value"), ("note",))
    orgs = {c.org_number: c for c in session.scalars(select(Constituent)) if c.org_number}
    problems: list[str] = []
    parsed: list[tuple[Constituent, str, str, str | None]] = []
    for n, row in enumerate(rows, start=2):
        org = normalise_org_number(row["org_number"])
        owner = orgs.get(org)
        if owner is None:
            problems.append(f"rad {n}, org_number: {org!r} finnes ikke i registeret")
        try:
            value = normalise_asset(row["asset_type"], row["value"])
        except ValueError as exc:
            col = "asset_type" if row["asset_type"] not in ASSET_TYPES else "value"
            problems.append(f"rad {n}, {col}: {exc}")
            continue
        if row["asset_type"] == "supplier" and value not in orgs:
            problems.append(f"rad {n}, value: leverandøren {value} finnes ikke i registeret")
        if owner is not None:
            parsed.append((owner, row["asset_type"], value, row.get("note") or None))
    if problems:
        raise ValidationFailed(f"importen ble avvist: {len(problems)} feil, ingenting ble importert", problems)
    existing = {(a.constituent_id, a.type, a.value) for a in session.scalars(select(Asset))}
    report = ImportReport()
    for owner, asset_type, value, note in parsed:
        if (owner.id, asset_type, value) in existing:
            report.updated += 1
            continue
        existing.add((owner.id, asset_type, value))
        session.add(Asset(constituent_id=owner.id, type=asset_type, value=value, note=note))
        report.created += 1
    session.flush()
    bump_registry_version(session)
    record(session, actor=actor, action="assets.import", entity_type="registry", entity_id="*",
           created=report.created)
    return report
