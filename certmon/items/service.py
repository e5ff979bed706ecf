"""Store normalised items: batched upsert by natural key, and the read side for the API."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from certmon.db import utcnow
from certmon.errors import ValidationFailed
from certmon.items import search
from certmon.items.models import StoredItem
from certmon.items.schemas import Item, item_to_json
from certmon.tlp import TLP, parse_tlp

# Rows are written through the driver (executemany on SQLite, one JSON array of rows taken apart by
# the server on PostgreSQL) with values converted once per distinct value: SQLAlchemy's per-row, per-column bind
# processing and psycopg's client-side parsing of huge multi-row statements cost more than the
# database's own work at 10^5 rows.
COLUMNS = (
    "source_id", "kind", "key", "tlp", "tlp_rank", "source_format", "title", "summary", "url", "published_at",
    "severity", "cve", "known_exploited", "cvss", "indicator_type", "value", "confidence", "ip", "port",
    "report_type", "revoked", "data", "content_hash", "payload_id", "first_seen", "last_seen", "updated_at",
)
_KEY, _REVOKED, _HASH = COLUMNS.index("key"), COLUMNS.index("revoked"), COLUMNS.index("content_hash")
_UPDATED = (*COLUMNS[1:-3], "last_seen", "updated_at")  # everything but source_id and first_seen
_PG_TYPE = {
    "source_id": "integer", "tlp_rank": "integer", "confidence": "integer", "port": "integer",
    "payload_id": "integer", "known_exploited": "boolean", "revoked": "boolean", "cvss": "float8",
    "published_at": "timestamptz", "first_seen": "timestamptz", "last_seen": "timestamptz",
    "updated_at": "timestamptz", "data": "json",
}
LOOKUP_CHUNK = {"postgresql": 10_000, "sqlite": 500}  # keys per existence query (and items held at once)
# PostgreSQL's insert has one JSON parameter (all the rows), so only memory bounds its batch;
# SQLite inserts with one executemany per chunk.
PG_INSERT_BATCH = 5_000
Row = tuple[Any, ...]


@dataclass
class UpsertResult:
    """Ids of items that are new or changed (these need matching) and a count of the unchanged."""

    new_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    revoked_ids: list[int] = field(default_factory=list)
    items: int = 0  # items read from the input, repeated keys included

    @property
    def changed_ids(self) -> list[int]:
        return self.new_ids + self.updated_ids


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp (with `Z`) into an aware UTC datetime; None if unparseable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class _RowBuilder:
    """Turns items into row tuples (in COLUMNS order), converting each distinct TLP and time once."""

    def __init__(self, source_id: int, payload_id: int | None, now: Any, to_db_time: Callable[[Any], Any]):
        self.source_id, self.payload_id, self.now = source_id, payload_id, now
        self.to_db_time = to_db_time
        self.times: dict[str | None, Any] = {}
        self.tlps: dict[str, TLP] = {}

    def row(self, item: Item) -> Row:
        """One row; the content hash and the `data` column come from the same JSON encoding."""
        encoded = item_to_json(item)
        tlp = self.tlps.get(item.tlp)
        if tlp is None:
            tlp = self.tlps[item.tlp] = parse_tlp(item.tlp, TLP.CLEAR)
        stamp = item.published or item.observed_at or item.valid_from
        published = self.times.get(stamp, self)
        if published is self:
            published = self.times[stamp] = self.to_db_time(parse_iso(stamp))
        value = item.value[:2000] if item.value else None
        return (
            self.source_id, item.kind, item.key[:500], tlp.value_str, int(tlp), item.source_format, item.title,
            item.summary, item.url, published, item.severity, item.cve, bool(item.known_exploited), item.cvss,
            item.type, value, item.confidence, item.ip, item.port, item.report_type, item.revoked,
            encoded.decode(), hashlib.md5(encoded, usedforsecurity=False).hexdigest(), self.payload_id,
            self.now, self.now, self.now,
        )


def _time_converter(conn: Connection) -> Callable[[Any], Any]:
    """The column type's own bind conversion (SQLite stores text), applied once per distinct value."""
    column_type = StoredItem.__table__.c.last_seen.type.dialect_impl(conn.dialect)
    process = column_type.bind_processor(conn.dialect)
    return process if process is not None else (lambda value: value)


def upsert_items(
    session: Session, *, source_id: int, items: Iterable[Item], payload_id: int | None = None,
    now: datetime | None = None,
) -> UpsertResult:
    """Insert new items, update changed ones in place, touch unchanged ones; batched, never per row.

    Streams: `items` is consumed one lookup chunk at a time, so a generator (an adapter's parse)
    is never held whole. When a key comes again in the same call, its last version is stored and
    the row is reported once: new if it was new, else updated if any version differed from what
    was stored, else unchanged.
    """
    session.flush()  # pending ORM rows (the payload) must exist before rows refer to them
    conn = session.connection()
    to_db_time = _time_converter(conn)
    db_now = to_db_time(now or utcnow())
    builder = _RowBuilder(source_id, payload_id, db_now, to_db_time)
    result = UpsertResult()
    # rows this call already wrote: updated/unchanged ones by id; new ones are every id from `first_new` on
    # (a source's rows are written by one run at a time, and ids only grow), so a million new rows cost no map
    seen: dict[int, int] = {}
    first_new: int | None = None
    step = LOOKUP_CHUNK.get(conn.dialect.name, 500)
    sqlite = conn.dialect.name == "sqlite"  # its search index is written per batch, not by the triggers
    for chunk in _chunks(items, step, result):
        existing = _existing(conn, source_id, list(chunk))
        fresh: list[Row] = []
        changed: list[Row] = []
        touched: list[int] = []
        for key, item in chunk.items():
            row = builder.row(item)
            found = existing.get(key)
            if found is None:
                fresh.append(row)
                continue
            item_id, digest = found
            before = _WAS_NEW if first_new is not None and item_id >= first_new else seen.get(item_id)
            if digest != row[_HASH]:
                changed.append((*row[1:-3], db_now, db_now, item_id))
                if before is None or before == _WAS_UNCHANGED:
                    if before == _WAS_UNCHANGED:
                        result.unchanged -= 1
                    seen[item_id] = _WAS_UPDATED
                    result.updated_ids.append(item_id)
                if before != _WAS_NEW:
                    _mark_revoked(result, item_id, row[_REVOKED], again=before == _WAS_UPDATED)
            elif before is None:
                seen[item_id] = _WAS_UNCHANGED
                touched.append(item_id)
        new_ids: list[int] = []
        writing = (search.sqlite_deferred_index(conn, new_ids, [row[-1] for row in changed])
                   if sqlite and (fresh or changed) else nullcontext())
        with writing:
            new_ids += _insert(conn, fresh)
            _update_changed(conn, changed)
        result.new_ids.extend(new_ids)
        if new_ids and first_new is None:
            first_new = min(new_ids)
        _touch(conn, touched, db_now)
        result.unchanged += len(touched)
    return result


_WAS_NEW, _WAS_UPDATED, _WAS_UNCHANGED = 0, 1, 2


def _chunks(items: Iterable[Item], size: int, result: UpsertResult) -> Iterator[dict[str, Item]]:
    """Up to `size` distinct keys at a time; within a chunk the last version of a key wins."""
    chunk: dict[str, Item] = {}
    for item in items:
        result.items += 1
        chunk[item.key[:500]] = item
        if len(chunk) >= size:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


def _mark_revoked(result: UpsertResult, item_id: int, revoked: bool, *, again: bool) -> None:
    """Keep `revoked_ids` to the updated rows whose stored (last) version is revoked."""
    if revoked and not (again and item_id in result.revoked_ids):
        result.revoked_ids.append(item_id)
    elif not revoked and again and item_id in result.revoked_ids:
        result.revoked_ids.remove(item_id)


def _marks(conn: Connection, count: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def _existing(conn: Connection, source_id: int, keys: list[str]) -> dict[str, tuple[int, str]]:
    """(id, content hash) of the stored rows among `keys` for this source."""
    if conn.dialect.name == "postgresql":
        # A join against the key array probes the (source_id, key) index; `key IN (...)` with many
        # parameters can be planned as a scan of the whole source on a freshly filled table.
        sql = ("SELECT i.key, i.id, i.content_hash FROM json_array_elements_text(%s::json) AS k(key)"
               " JOIN items i ON i.source_id = %s AND i.key = k.key")
        params: tuple[Any, ...] = (orjson.dumps(keys).decode(), source_id)
    else:
        sql = f"SELECT key, id, content_hash FROM items WHERE source_id = {_marks(conn, 1)}" \
              f" AND key IN ({_marks(conn, len(keys))})"
        params = (source_id, *keys)
    return {key: (item_id, digest) for key, item_id, digest in conn.exec_driver_sql(sql, params)}


def _insert(conn: Connection, rows: list[Row]) -> list[int]:
    """Insert rows; their new ids in the order of `rows`.

    Columns that are NULL in every row of the batch are left out of the statement (they default to
    NULL): binding ten NULLs per indicator row cost about as much as the rest of the row.
    """
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    keep = [i for i, values in enumerate(columns) if values.count(None) != len(rows)]
    names = ", ".join(COLUMNS[i] for i in keep)
    if conn.dialect.name == "postgresql":
        # One JSON array of rows (encoded by orjson in C), taken apart by the server: psycopg's
        # text-array dumper escaped every element with a Python regex, ~40 µs per row of client CPU.
        exprs = ", ".join(f"(r.v->>{j})::{_PG_TYPE.get(COLUMNS[i], 'text')}" for j, i in enumerate(keep))
        sql = f"INSERT INTO items ({names}) SELECT {exprs} FROM json_array_elements(%s::json) AS r(v) RETURNING key, id"
        ids: dict[str, int] = {}
        for start in range(0, len(rows), PG_INSERT_BATCH):
            part = list(zip(*(columns[i][start:start + PG_INSERT_BATCH] for i in keep), strict=True))
            ids.update(conn.exec_driver_sql(sql, (orjson.dumps(part).decode(),)).tuples().all())
        return [ids[row[_KEY]] for row in rows]
    return _insert_sqlite(conn, rows, [columns[i] for i in keep], names)


def _insert_sqlite(conn: Connection, rows: list[Row], columns: list[tuple[Any, ...]], names: str) -> list[int]:
    """One executemany. SQLite gives a new row the largest rowid plus one (the write lock is held,
    so nothing else inserts meanwhile); the ids are read back by key if the largest id did not move
    by exactly the number of rows (the table's rowids exhausted, where SQLite picks at random)."""
    before = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM items").scalar_one()
    conn.exec_driver_sql(f"INSERT INTO items ({names}) VALUES ({_marks(conn, len(columns))})",
                         list(zip(*columns, strict=True)))
    after = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM items").scalar_one()
    if after - before == len(rows):
        return list(range(before + 1, after + 1))
    source_id = rows[0][0]
    found: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        keys = [row[_KEY] for row in rows[start:start + 500]]
        found.update(conn.exec_driver_sql(
            f"SELECT key, id FROM items WHERE source_id = ? AND key IN ({_marks(conn, len(keys))})",
            (source_id, *keys)).tuples().all())
    return [found[row[_KEY]] for row in rows]


def _update_changed(conn: Connection, rows: list[Row]) -> None:
    """Rewrite changed rows in place (each row: the _UPDATED values, then the id); one executemany."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    json_mark = mark if conn.dialect.name != "postgresql" else f"{mark}::json"
    sets = ", ".join(f"{c} = {json_mark if c == 'data' else mark}" for c in _UPDATED)
    conn.exec_driver_sql(f"UPDATE items SET {sets} WHERE id = {mark}", rows)


def _touch(conn: Connection, ids: list[int], db_now: Any) -> None:
    """Mark unchanged rows as seen now: one statement per chunk."""
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("UPDATE items SET last_seen = %s WHERE id = ANY(%s)", (db_now, ids))
    else:
        conn.exec_driver_sql(f"UPDATE items SET last_seen = ? WHERE id IN ({_marks(conn, len(ids))})",
                             (db_now, *ids))


ITEM_SORTS = ("published", "cvss", "cve", "due")


def item_order(sort: str) -> tuple[Any, ...]:
    """ORDER BY: published (KEV: date added) newest first, CVSS highest first, CVE id newest first, or the
    KEV due date soonest first; ties newest first."""
    newest = (StoredItem.published_at.desc().nulls_last(), StoredItem.id.desc())
    if sort == "cvss":
        return (StoredItem.cvss.desc().nulls_last(), *newest)
    if sort == "cve":
        return (StoredItem.cve.desc().nulls_last(), *newest)
    if sort == "due":
        return (StoredItem.data["due_date"].as_string().asc().nulls_last(), *newest)
    return newest


def list_items(
    session: Session, *, kinds: Sequence[str], tlp_max: TLP, limit: int = 50, offset: int = 0,
    q: str | None = None, source_id: int | None = None, indicator_type: str | None = None,
    known_exploited: bool | None = None, sort: str = "published",
) -> tuple[list[StoredItem], int]:
    """Items of the given kinds that the reader is cleared for, newest first (`sort`: see ITEM_SORTS);
    the total is exact up to search.COUNT_CAP (see `list_page` for the estimate and cursors)."""
    page = list_page(session, kinds=kinds, tlp_max=tlp_max, limit=limit, offset=offset, q=q, source_id=source_id,
                     indicator_type=indicator_type, known_exploited=known_exploited, sort=sort)
    return page.rows, page.total


@dataclass
class ItemListPage:
    """One page of a list: the rows, the total (exact or estimated) and the cursor of the next page."""

    rows: list[StoredItem]
    total: int
    total_exact: bool
    next_cursor: str | None


def list_page(
    session: Session, *, kinds: Sequence[str], tlp_max: TLP, limit: int = 50, offset: int = 0,
    cursor: str | None = None, q: str | None = None, source_id: int | None = None,
    indicator_type: str | None = None, known_exploited: bool | None = None, sort: str = "published",
) -> ItemListPage:
    """A page by offset or, in the default order, after a cursor (certmon/items/search.py)."""
    found = search.search_filter(session, q) if q and q.strip() else None
    by_id = found is not None and found.by_id
    plain = search.plain
    stmt = select(StoredItem).where(plain(StoredItem.kind, by_id).in_(kinds),
                                    plain(StoredItem.tlp_rank, by_id) <= int(tlp_max), StoredItem.revoked.is_(False))
    if found is not None:
        stmt = stmt.where(found.condition)
    if source_id is not None:
        stmt = stmt.where(plain(StoredItem.source_id, by_id) == source_id)
    if indicator_type:
        stmt = stmt.where(StoredItem.indicator_type == indicator_type)
    if known_exploited is not None:
        stmt = stmt.where(StoredItem.known_exploited.is_(known_exploited))
    total, exact = search.capped_count(session, stmt)
    if cursor is not None and (sort != "published" or offset):
        raise ValidationFailed("cursor gjelder bare standardrekkefølgen og kan ikke brukes sammen med offset",
                               ["query.cursor: brukt med sort eller offset"])
    if sort == "published" and not offset:
        rows = search.keyset_page(session, stmt, cursor, limit, kinds, by_id)
    else:
        ordered = search.newest_first(session, stmt) if sort == "published" else stmt.order_by(*item_order(sort))
        rows = list(session.scalars(ordered.limit(limit).offset(offset)))
    # a full page may have more after it (an exact total without a cursor says for certain)
    more = sort == "published" and len(rows) == limit and not (exact and cursor is None and offset + limit >= total)
    return ItemListPage(rows, total, exact, search.encode_cursor(rows[-1]) if rows and more else None)
