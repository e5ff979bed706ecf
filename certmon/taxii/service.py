"""The TAXII 2.1 server's read side: which collections a caller has, and pages of their objects.

A staff account (reader, analyst, admin) has one collection per TLP level within its clearance, each
holding the live indicators of exactly that label; a constituent's own user has one, "our indicators":
what the CERT has alerted its organisation about (Min side's rule, `released_item_ids`), at or below
its clearance. Both bounds are in the SQL that selects the rows. Objects are built by the export's
STIX code (`certmon.exports.service`), so an indicator has the same id in a file and over TAXII.

Paging is a keyset over (date_added, item id): date_added is when the stored version was written
(`updated_at`), `next` names the last row a page held, and a page never reads rows it skips.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import stix2.exceptions
from sqlalchemy import and_, case, false, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import clearance, has_role
from certmon.db import UTCDateTime
from certmon.dbutil import DB_INT_MAX
from certmon.errors import CertmonError, Forbidden, NotFound
from certmon.exports.service import (
    PRODUCER,
    indicator_id,
    indicator_modified,
    indicator_object,
    marking_object,
    stix_version,
)
from certmon.i18n import _
from certmon.items.models import StoredItem
from certmon.portal.service import own_constituent, released_item_times
from certmon.sources.models import Source
from certmon.taxii import models as _index  # noqa: F401  (the paging index: certmon/taxii/models.py)
from certmon.tlp import TLP

log = logging.getLogger(__name__)
MEDIA_TAXII = "application/taxii+json;version=2.1"
MEDIA_STIX = "application/stix+json;version=2.1"
API_ROOT = "certmon"  # /taxii2/certmon/
DEFAULT_PAGE, MAX_PAGE = 1000, 5000  # a larger `limit` is served as MAX_PAGE, as the spec allows
# Collection ids: uuid5 over this fixed namespace, so a client's configured URL never changes.
COLLECTION_NAMESPACE = uuid.UUID("1b0e4c57-3f0a-5d7e-9c43-6a2b8f1d0e7a")
# The producer identity and the marking definitions are in every collection, before any indicator.
STATIC_ADDED = datetime(2000, 1, 1, tzinfo=UTC)
SCAN_BATCH = 5000
_SECOND = timedelta(seconds=1)


class BadTaxiiRequest(CertmonError):
    """A query parameter the TAXII server cannot read (400)."""

    status = 400


@dataclass(frozen=True)
class TaxiiCollection:
    """One collection as one caller sees it."""

    id: str
    title: str
    description: str
    levels: tuple[TLP, ...]  # the labels it holds
    constituent_id: int | None = None  # only what was alerted to this organisation


def _tlp_collection(level: TLP) -> TaxiiCollection:
    return TaxiiCollection(
        id=str(uuid.uuid5(COLLECTION_NAMESPACE, f"tlp:{level.value_str}")),
        title=_("Indicators %(tlp)s") % {"tlp": level.label},
        description=_("Live indicators labelled %(tlp)s from every source Helse- og KommuneCERT collects.")
        % {"tlp": level.label},
        levels=(level,))


def collections_for(session: Session, user: User) -> list[TaxiiCollection]:
    """The caller's collections: one per TLP level within a staff clearance, or the organisation's own."""
    if user.role == "constituent":
        org = own_constituent(session, user)
        top = clearance(user)
        return [TaxiiCollection(
            id=str(uuid.uuid5(COLLECTION_NAMESPACE, f"constituent:{org.org_number or org.id}")),
            title=_("Our indicators"),
            description=_("Indicators in the alerts Helse- og KommuneCERT has sent %(name)s, up to %(tlp)s.")
            % {"name": org.name, "tlp": top.label},
            levels=tuple(t for t in TLP if t <= top), constituent_id=org.id)]
    if not has_role(user, "reader", "analyst"):
        raise Forbidden(_("The role %(role)s has no TAXII collections.") % {"role": user.role})
    return [_tlp_collection(level) for level in TLP if level <= clearance(user)]


def find_collection(session: Session, user: User, collection_id: str) -> TaxiiCollection:
    """One of the caller's collections; NotFound for any other id (whether it exists for others or not)."""
    for collection in collections_for(session, user):
        if collection.id == collection_id.lower():
            return collection
    raise NotFound(_("The collection %(id)s does not exist, or you have no access to it.") % {"id": collection_id})


@dataclass
class Filters:
    """The query parameters of objects, manifest and versions."""

    added_after: datetime | None = None
    ids: Sequence[str] = ()
    types: Sequence[str] = ()
    versions: Sequence[str] = ()  # "last", "first", "all" or timestamps; empty: last
    spec_versions: Sequence[str] = ()
    limit: int = DEFAULT_PAGE
    after: tuple[datetime, int] | None = None  # from `next`


@dataclass
class Entry:
    """One object of a page: what it is, when it was added, its version, and how to build it."""

    position: tuple[datetime, int]  # keyset position: (date_added, item id; statics below 0)
    stix_id: str
    stix_type: str
    version: str
    row: StoredItem | None = None
    static: Any = None

    @property
    def date_added(self) -> datetime:
        return self.position[0]


@dataclass
class Page:
    """A page of entries, whether there are more, and the `next` token for them."""

    entries: list[Entry] = field(default_factory=list)
    more: bool = False
    next: str | None = None


def parse_timestamp(value: str, name: str) -> datetime:
    """A TAXII/STIX timestamp (`2026-12-06T21:00:00.123Z`) as an aware UTC datetime; 400 otherwise."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadTaxiiRequest(_("%(name)s is not a timestamp: %(value)s") % {"name": name, "value": value[:60]}) \
            from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def taxii_time(dt: datetime) -> str:
    """date_added as the headers and manifests write it (microseconds, UTC)."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_next(position: tuple[datetime, int]) -> str:
    """The opaque `next` token for the rows after `position`."""
    return base64.urlsafe_b64encode(f"{taxii_time(position[0])}|{position[1]}".encode()).decode().rstrip("=")


def decode_next(token: str) -> tuple[datetime, int]:
    """The position a `next` token names; 400 for anything this server did not write."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, _sep, item = text.partition("|")
        position = parse_timestamp(stamp, "next"), int(item)
        if not -len(TLP) - 1 <= position[1] <= DB_INT_MAX:  # statics sit below 0, rows are database ids
            raise ValueError(item)
        return position
    except (binascii.Error, UnicodeDecodeError, ValueError, BadTaxiiRequest):
        raise BadTaxiiRequest(_("next is not a token this server has given out")) from None


def _statics(collection: TaxiiCollection) -> list[Entry]:
    objects = [PRODUCER, *(marking_object(level) for level in collection.levels)]
    return [Entry(position=(STATIC_ADDED, n - len(objects)), stix_id=obj.id, stix_type=obj.type,
                  version=stix_version(obj.get("modified") or obj.created), static=obj)
            for n, obj in enumerate(objects)]


def _rows(collection: TaxiiCollection, now: datetime) -> tuple[Any, Any]:  # (select, date_added column)
    """The collection's live indicators and each one's date_added, bounded by TLP label and organisation
    in the query itself. date_added is when the stored version was written; in an organisation's own
    collection it is the later of that and the latest alert that told the organisation of the item, so
    an old indicator alerted today is new to a client polling with `added_after`."""
    labels = [t.value_str for t in collection.levels]
    valid_until = StoredItem.data["valid_until"].as_string()
    live = (StoredItem.kind == "indicator", StoredItem.revoked.is_(False),
            StoredItem.tlp_rank == int(collection.levels[0]) if len(collection.levels) == 1
            else StoredItem.tlp_rank.in_([int(t) for t in collection.levels]), StoredItem.tlp.in_(labels),
            or_(valid_until.is_(None), valid_until == "",
                func.substr(valid_until, 1, 19) >= now.strftime("%Y-%m-%dT%H:%M:%S")))
    if collection.constituent_id is None:
        return select(StoredItem, StoredItem.updated_at).where(*live), StoredItem.updated_at
    # what the CERT has told this organisation (Min side's rule, released_item_ids)
    told = released_item_times(collection.constituent_id, max(collection.levels))
    added = type_coerce(case((told.c.released_at > StoredItem.updated_at, told.c.released_at),
                             else_=StoredItem.updated_at), UTCDateTime())
    return select(StoredItem, added).join(told, told.c.item_id == StoredItem.id).where(*live), added


def _item_ids_for(session: Session, stmt: Any, wanted: set[str]) -> list[int]:
    """Ids of the collection's rows whose STIX id is wanted. The id is a hash of (source, key), so this
    reads (id, source, key) of the collection in batches; `match[id]` and single-object reads are rare."""
    wanted = {w for w in wanted if w.startswith("indicator--")}
    if not wanted:
        return []
    keys = stmt.with_only_columns(StoredItem.id, StoredItem.source_id, StoredItem.key).order_by(None)
    found: list[int] = []
    for item_id, source_id, key in session.execute(keys.execution_options(yield_per=SCAN_BATCH)):
        if indicator_id(source_id, key) in wanted:
            found.append(item_id)
            if len(found) == len(wanted):
                break
    return found


def _version_clause(versions: Sequence[str]) -> tuple[bool, list[datetime]]:
    """(every version matches, the exact versions asked for). One version is stored per object."""
    if not versions or any(v in ("last", "first", "all") for v in versions):
        return True, []
    return False, [parse_timestamp(v, "match[version]") for v in versions]


def _entry(row: StoredItem, added: datetime) -> Entry:
    return Entry(position=(added, row.id), stix_id=indicator_id(row.source_id, row.key),
                 stix_type="indicator", version=stix_version(indicator_modified(row)), row=row)


def page_of(session: Session, collection: TaxiiCollection, f: Filters, *, now: datetime | None = None) -> Page:
    """One page of the collection's objects after `f.after` (keyset), with the match filters applied."""
    now = now or datetime.now(UTC)
    if f.spec_versions and "2.1" not in f.spec_versions:
        return Page()
    every_version, exact = _version_clause(f.versions)
    asked = {stix_version(v) for v in exact}
    statics = [e for e in _statics(collection)
               if (f.after is None or e.position > f.after) and (f.added_after is None or e.date_added > f.added_after)
               and (not f.types or e.stix_type in f.types) and (not f.ids or e.stix_id in f.ids)
               and (every_version or e.version in asked)]
    stmt, added = _rows(collection, now)
    if f.types and "indicator" not in f.types:
        stmt = stmt.where(false())
    if f.ids:
        stmt = stmt.where(StoredItem.id.in_(_item_ids_for(session, stmt, set(f.ids))))
    if f.added_after is not None:
        stmt = stmt.where(added > f.added_after)
    if not every_version:  # `modified` is updated_at to the second: a version names one second
        stmt = stmt.where(or_(false(), *(and_(StoredItem.updated_at >= v, StoredItem.updated_at < v + _SECOND)
                                         for v in exact if v.microsecond == 0)))
    if f.after is not None and f.after[1] > 0:
        at, item = f.after
        # `>=` gives the index scan its start; the OR only sorts out the rows at that very instant
        stmt = stmt.where(added >= at, or_(added > at, and_(added == at, StoredItem.id > item)))
    want = f.limit - len(statics[:f.limit])
    rows = session.execute(stmt.order_by(added, StoredItem.id).limit(want + 1)).tuples().all() if want >= 0 else []
    entries = statics[:f.limit] + [_entry(row, at) for row, at in rows[:want]]
    more = len(statics) > f.limit or len(rows) > want
    return Page(entries=entries, more=more, next=encode_next(entries[-1].position) if more and entries else None)


def find_object(session: Session, collection: TaxiiCollection, object_id: str, f: Filters) -> Page:
    """The one object with this id in the collection (all its versions: one is stored); NotFound if none."""
    page = page_of(session, collection, Filters(ids=[object_id], versions=f.versions or ["all"],
                                                spec_versions=f.spec_versions, limit=2))
    if not page.entries:
        raise NotFound(_("The object %(id)s is not in this collection.") % {"id": object_id[:100]})
    return page


def source_names(session: Session, entries: list[Entry]) -> dict[int, str]:
    """Source names for the external references of a page's indicators."""
    wanted = {e.row.source_id for e in entries if e.row is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Source.id, Source.name).where(Source.id.in_(wanted))).tuples().all())


def stix_json(entry: Entry, names: dict[int, str]) -> str | None:
    """The object's STIX 2.1 JSON, built by the export's code; None (logged) for a stored item stix2
    refuses (a feed's malformed `valid_until`, say), so one bad row never fails the whole page."""
    if entry.row is None:
        return str(entry.static.serialize())
    try:
        return str(indicator_object(entry.row, names, stix_id=entry.stix_id).serialize())
    except (stix2.exceptions.STIXError, ValueError, TypeError) as exc:
        log.warning("TAXII: item %s cannot be written as STIX and is left out: %s", entry.row.id, exc)
        return None


