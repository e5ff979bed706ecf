"""Select indicators for export and write them as CSV, JSON Lines or a STIX 2.1 bundle.

What leaves is bounded by TLP: the caller's clearance and the ceiling asked for, whichever is
lower, decide which items are selected (in SQL), and every exported record carries its own TLP
(a `tlp` column, the item's `tlp` field, or a TLP 2.0 marking reference in STIX). Revoked items
and items whose `valid_until` has passed are left out. The highest TLP in the file is returned
with it so the HTTP response and the CLI can label the whole file. Every export is audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import stix2
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from certmon import __version__
from certmon.audit.service import record
from certmon.errors import ValidationFailed
from certmon.items.models import StoredItem
from certmon.notify.compose import csv_cell
from certmon.portal.service import released_item_ids
from certmon.sources.models import Source
from certmon.tlp import STIX_MARKING_IDS, TLP, parse_tlp

FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/x-ndjson", "jsonl"),
           "stix": ("application/stix+json;version=2.1", "json")}
INDICATOR_TYPES = ("ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "asn")
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 50_000
CSV_COLUMNS = ("type", "value", "tlp", "confidence", "first_seen", "last_seen", "valid_until", "source", "labels")

# TLP 2.0 marking definitions (the ids and the extension fixed by the FIRST TLP 2.0 STIX extension).
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_MARKING = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
assert all(STIX_MARKING_IDS[mid] == tlp for tlp, mid in TLP2_MARKING.items())  # one truth with the parser
# Stable ids for what this installation produces (the same item always exports as the same indicator).
NAMESPACE = uuid.UUID("6f3a1a52-56a4-4c5e-9a7f-2d1c0c8b6e11")
PRODUCER = stix2.v21.Identity(id=f"identity--{uuid.uuid5(NAMESPACE, 'Helse- og KommuneCERT')}",
                              name="Helse- og KommuneCERT", identity_class="organization",
                              created="2026-01-01T00:00:00.000Z", modified="2026-01-01T00:00:00.000Z")


@dataclass
class ExportQuery:
    """What to export; `tlp_max` is already the lower of the caller's clearance and the asked ceiling."""

    tlp_max: TLP
    since: datetime | None = None
    types: Sequence[str] = ()
    source_id: int | None = None
    constituent_id: int | None = None  # only what the CERT has alerted this organisation about
    limit: int = DEFAULT_LIMIT


@dataclass
class Export:
    """The rendered file, how many records it holds, and the highest TLP in it."""

    body: bytes
    count: int
    tlp: TLP
    media_type: str
    filename: str
    truncated: bool = False  # the limit was reached: there may be more


def check_query(fmt: str, types: Sequence[str], limit: int) -> None:
    """Reject an unknown format or type and an out-of-range limit, naming the valid values."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"ukjent format {fmt!r}; gyldige: {', '.join(FORMATS)}")
    bad = [t for t in types if t not in INDICATOR_TYPES]
    if bad:
        raise ValidationFailed(f"ukjent indikatortype {bad[0]!r}; gyldige: {', '.join(INDICATOR_TYPES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit må være mellom 1 og {MAX_LIMIT}")


def _live(rows: list[StoredItem], q: ExportQuery, stamp: str) -> list[StoredItem]:
    # the label is the truth (the rank column only narrows the query); expired indicators stay home
    return [r for r in rows if parse_tlp(r.tlp, TLP.RED) <= q.tlp_max
            and not ((r.data or {}).get("valid_until") or "9999")[:19] < stamp]


def select_indicators(session: Session, q: ExportQuery, *, now: datetime | None = None) -> list[StoredItem]:
    """Live indicators at or below the ceiling, newest first (by last seen), at most `limit`.

    Expiry lives in the item's JSON, so rows are read in key-ordered batches until `limit` live ones
    are found or the table is exhausted: a file is short only when there is no more to give."""
    stmt = select(StoredItem).where(StoredItem.kind == "indicator", StoredItem.revoked.is_(False),
                                    StoredItem.tlp_rank <= int(q.tlp_max))
    if q.since is not None:
        stmt = stmt.where(StoredItem.last_seen >= q.since)
    if q.types:
        stmt = stmt.where(StoredItem.indicator_type.in_(list(q.types)))
    if q.source_id is not None:
        stmt = stmt.where(StoredItem.source_id == q.source_id)
    if q.constituent_id is not None:  # what the CERT has told this organisation (Min side's rule)
        stmt = stmt.where(StoredItem.id.in_(released_item_ids(q.constituent_id, q.tlp_max)))
    stmt = stmt.order_by(StoredItem.last_seen.desc(), StoredItem.id.desc())
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    found: list[StoredItem] = []
    after: tuple[datetime, int] | None = None
    while len(found) < q.limit:
        page = stmt if after is None else stmt.where(or_(
            StoredItem.last_seen < after[0], and_(StoredItem.last_seen == after[0], StoredItem.id < after[1])))
        rows = list(session.scalars(page.limit(q.limit)))
        found += _live(rows, q, stamp)
        if len(rows) < q.limit:
            break
        after = (rows[-1].last_seen, rows[-1].id)
    return found[:q.limit]


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stix_pattern(kind: str, value: str) -> str:
    """The STIX 2.1 pattern for one canonical indicator value."""
    if kind == "asn":
        return f"[autonomous-system:number = {int(value)}]"
    if kind == "cidr":
        return f"[{'ipv6-addr' if ':' in value else 'ipv4-addr'}:value = {_literal(value)}]"
    path = {"ipv4": "ipv4-addr:value", "ipv6": "ipv6-addr:value", "domain": "domain-name:value",
            "url": "url:value", "email": "email-addr:value", "md5": "file:hashes.MD5",
            "sha1": "file:hashes.'SHA-1'", "sha256": "file:hashes.'SHA-256'"}[kind]
    return f"[{path} = {_literal(value)}]"


class _CertmonIndicator(stix2.v21.Indicator):  # type: ignore[misc]
    """An Indicator whose pattern certmon wrote itself (`stix_pattern`, from a canonical value with one
    escaping rule), so the ANTLR pattern parse, 70 % of the build time, is skipped; every other check
    stays. tests/api/test_exports.py runs each kind's pattern through the STIX pattern validator."""

    def _check_object_constraints(self) -> None:
        inner = dict(self._inner)
        del self._inner["pattern_type"]  # the parent parses patterns of type stix only
        try:
            super()._check_object_constraints()
        finally:
            self._inner.clear()
            self._inner.update(inner)


def indicator_id(source_id: int, key: str) -> str:
    """The stable STIX id of one stored indicator: the same item always exports as the same indicator."""
    return f"indicator--{uuid.uuid5(NAMESPACE, f'{source_id}:{key}')}"


def indicator_modified(r: StoredItem) -> datetime:
    """When the stored version of an item was written (its STIX `modified`, to the second)."""
    when = max(r.updated_at, r.first_seen)
    return when.replace(microsecond=0)


def stix_version(when: datetime) -> str:
    """A timestamp as stix2 writes `modified` (millisecond precision, UTC): the TAXII version string."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def marking_object(tlp: TLP) -> stix2.v21.MarkingDefinition:
    """The TLP 2.0 marking definition for a label (FIRST's fixed id and extension)."""
    return stix2.v21.MarkingDefinition(
        id=TLP2_MARKING[tlp], created="2022-10-01T00:00:00.000Z", name=tlp.label,
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.value_str}})


def _second(dt: datetime) -> datetime:
    # to the second, in UTC: stix2 takes datetimes as they are (no strptime, a sixth of the build time)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)


def indicator_object(r: StoredItem, names: dict[int, str], *, stix_id: str | None = None) -> stix2.v21.Indicator:
    """One stored indicator as a STIX 2.1 Indicator marked with its TLP 2.0 marking definition
    (`stix_id`: its `indicator_id`, where the caller has it already)."""
    data = r.data or {}
    kind, value = r.indicator_type or "", r.value or ""
    labels = [str(x) for x in data.get("labels") or []][:20]
    first_seen = _second(r.first_seen)
    return _CertmonIndicator(
        id=stix_id or indicator_id(r.source_id, r.key), created=first_seen, modified=_second(indicator_modified(r)),
        created_by_ref=PRODUCER.id, name=f"{kind} {value}"[:250], pattern=stix_pattern(kind, value),
        pattern_type="stix", valid_from=first_seen, valid_until=data.get("valid_until") or None,
        confidence=r.confidence,
        indicator_types=["malicious-activity"], labels=labels or None,
        object_marking_refs=[TLP2_MARKING[parse_tlp(r.tlp, TLP.RED)]],
        external_references=[{"source_name": f"certmon:{names.get(r.source_id, r.source_id)}",
                              "external_id": r.key[:200]}],
    )


def _stix(rows: list[StoredItem], names: dict[int, str]) -> bytes:
    used = sorted({parse_tlp(r.tlp, TLP.RED) for r in rows})
    objects: list[Any] = [PRODUCER, *(marking_object(tlp) for tlp in used)]
    objects += [indicator_object(r, names) for r in rows]
    return stix2.v21.Bundle(objects=objects).serialize().encode("utf-8")


def _csv(rows: list[StoredItem], names: dict[int, str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        data = r.data or {}
        writer.writerow([csv_cell(v) for v in (
            r.indicator_type, r.value, parse_tlp(r.tlp, TLP.RED).label, "" if r.confidence is None else r.confidence,
            _iso(r.first_seen), _iso(r.last_seen), data.get("valid_until") or "", names.get(r.source_id, ""),
            " ".join(str(x) for x in data.get("labels") or []))])
    return buf.getvalue().encode("utf-8")


JSONL_FIELDS = ("kind", "key", "type", "value", "tlp", "labels", "confidence", "valid_until", "source_format")


def _jsonl(rows: list[StoredItem], names: dict[int, str]) -> bytes:
    # an allow-list: the feed's free text (titles, MISP event descriptions …) stays home
    out = bytearray()
    for r in rows:
        data = r.data or {}
        record_ = {name: data.get(name) for name in JSONL_FIELDS}
        record_.update(source=names.get(r.source_id, ""), first_seen=_iso(r.first_seen), last_seen=_iso(r.last_seen))
        out += orjson.dumps(record_) + b"\n"
    return bytes(out)


def export_indicators(session: Session, q: ExportQuery, fmt: str, *, actor: str) -> Export:
    """Select, render and audit one export."""
    check_query(fmt, q.types, q.limit)
    rows = select_indicators(session, q)
    names = dict(session.execute(select(Source.id, Source.name)).tuples().all())
    body = {"csv": _csv, "jsonl": _jsonl, "stix": _stix}[fmt](rows, names)
    top = max((parse_tlp(r.tlp, TLP.RED) for r in rows), default=TLP.CLEAR)
    media_type, ext = FORMATS[fmt]
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    record(session, actor=actor, action="export.indicators", entity_type="export", entity_id=fmt, count=len(rows),
           tlp_max=q.tlp_max.value_str, tlp=top.value_str, constituent_id=q.constituent_id,
           types=list(q.types), since=_iso(q.since), version=__version__)
    return Export(body=body, count=len(rows), tlp=top, media_type=media_type, truncated=len(rows) >= q.limit,
                  filename=f"certmon-indikatorer-{day}-{top.value_str.replace('+', '-')}.{ext}")
