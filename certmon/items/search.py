"""Lists of items at any size: a substring search through an index, keyset pages, capped counts.

- **Search** (`q`): a case-insensitive substring of the title, value, CVE id or key. PostgreSQL serves
  it from one trigram index (pg_trgm, GIN) over the four columns joined by a separator no query
  contains; SQLite from an FTS5 table with the trigram tokenizer, kept in step with `items` by
  triggers, except that the ingest path writes it per batch itself (`sqlite_deferred_index`, migration
  0020). Both need three characters; a shorter query scans (it is rare and the scan is bounded by the
  other filters and the page size). The index objects are made by migrations 0019 and 0020 and are not
  in the ORM metadata (`UNMODELLED`).
- **Keyset pages**: the default order (published newest first, items without a date last, then id) is
  paged by a cursor holding the last row's (published_at, id), served by the (kind, published_at DESC,
  id DESC) index: page 20,000 costs what page 1 costs. Offsets still work for the dashboard's pager.
- **Counts**: `total` is exact up to COUNT_CAP; beyond it PostgreSQL's planner estimate (or, on SQLite,
  the cap) is given with `total_exact` false, so a list never counts a million rows to show fifty.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from certmon.errors import ValidationFailed
from certmon.items.models import StoredItem

COUNT_CAP = 10_000
MIN_INDEXED = 3  # the trigram indexes need three characters
SEPARATOR = "\x1f"  # between the columns in PostgreSQL's search expression (no query contains it)
# Exactly the expression of PostgreSQL's index ix_items_search (migration 0019): the query must repeat it.
PG_SEARCH_EXPR = ("(coalesce(title, '') || chr(31) || coalesce(value, '') || chr(31) || coalesce(cve, '')"
                  " || chr(31) || key)")
SQLITE_SEARCH_TABLE = "items_search"
UNMODELLED = frozenset({"ix_items_search", "ix_items_kind_published", SQLITE_SEARCH_TABLE,
                        *(f"{SQLITE_SEARCH_TABLE}_{part}" for part in ("data", "idx", "content", "docsize", "config"))})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic's comparison: leave out the search index objects the models do not describe."""
    return not (name in UNMODELLED or (name or "").startswith(f"{SQLITE_SEARCH_TABLE}_"))


# The SQLite index, written per batch ---------------------------------------------------------------

_INDEXED = "title, value, cve, key"


@contextmanager
def sqlite_deferred_index(conn: Connection, new_ids: list[int], changed_ids: list[int]) -> Iterator[None]:
    """Around one batch of SQLite writes to `items`: the index triggers stand aside, and the batch is indexed
    by two statements instead of two per row (FTS5 flushes its pending terms at the end of each statement).

    Inside the block the caller inserts rows and appends their ids to `new_ids`, and rewrites the rows whose
    ids it passed in `changed_ids` (their old entries are taken out first, from the values stored now). The
    marker row lives only inside this block of the writer's transaction, so no other writer ever sees it.
    If the block fails the index is left part-written: the caller must roll the transaction back, as
    every ingest does (`feeds.collect` stores a run in one transaction).
    """
    conn.exec_driver_sql("INSERT INTO items_search_defer (since) VALUES (1)")
    try:
        _index_rows(conn, changed_ids, "'delete', id, ", f"{SQLITE_SEARCH_TABLE}, ")
        yield
        _index_rows(conn, [*new_ids, *changed_ids], "id, ", "")
    finally:
        conn.exec_driver_sql("DELETE FROM items_search_defer")


def _index_rows(conn: Connection, ids: list[int], head: str, command: str) -> None:
    """One INSERT … SELECT into the index for the rows `ids` (a range when they are consecutive)."""
    if not ids:
        return
    sql = (f"INSERT INTO {SQLITE_SEARCH_TABLE}({command}rowid, {_INDEXED}) "
           f"SELECT {head}{_INDEXED} FROM items WHERE ")
    low, high = min(ids), max(ids)
    if high - low + 1 == len(ids) == len(set(ids)):
        conn.exec_driver_sql(sql + "id BETWEEN ? AND ?", (low, high))
        return
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        conn.exec_driver_sql(sql + f"id IN ({', '.join('?' * len(part))})", tuple(part))


def _like_escape(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A SQLite search with at most this many hits looks them up by id. SQLite keeps no planner statistics (and
# with ANALYZE's it chose seconds-long plans for the dashboard's other lists), so it takes an equality on an
# indexed column for a handful of rows: it would walk the (kind, published_at) index and test each row
# against the hits (~0.2 s at a million rows, even for a word nothing contains). With the hits as a list of
# ids and the other filters kept off the indexes (`plain`), a page costs ~1 ms per 1,000 hits. More hits
# than this: the index walk, which then finds a page's rows soon.
SQLITE_BY_ID = 10_000


@dataclass(frozen=True)
class SearchFilter:
    """The condition for `q`, and whether it names its hits by id (then the other filters must be `plain`)."""

    condition: ColumnElement[bool]
    by_id: bool = False


def search_filter(session: Session, q: str) -> SearchFilter:
    """Items whose title, value, CVE or key contain `q` (any case), through the dialect's index."""
    q = q.strip()
    if "\x00" in q:  # neither database's text nor an FTS5 query can carry it
        raise ValidationFailed("søketeksten kan ikke inneholde NUL-tegn", ["query.q: inneholder NUL (\\x00)"])
    like = f"%{_like_escape(q)}%"
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return SearchFilter(literal_column(PG_SEARCH_EXPR).ilike(like, escape="\\"))
    if dialect == "sqlite" and len(q) >= MIN_INDEXED:
        phrase = '"' + q.replace('"', '""') + '"'
        session.flush()  # the hits are read by a statement of their own: pending rows must be in the index
        match = f"SELECT rowid FROM {SQLITE_SEARCH_TABLE} WHERE {SQLITE_SEARCH_TABLE} MATCH :phrase"
        hits = list(session.scalars(text(f"{match} LIMIT {SQLITE_BY_ID + 1}"), {"phrase": phrase}))
        if not hits:
            return SearchFilter(false(), by_id=True)
        if len(hits) <= SQLITE_BY_ID:
            ids = text("SELECT value FROM json_each(:hits)").bindparams(hits=json.dumps(hits, separators=(",", ":")))
            return SearchFilter(StoredItem.id.in_(ids.columns(column("value", Integer))), by_id=True)
        return SearchFilter(StoredItem.id.in_(text(match).bindparams(phrase=phrase).columns(column("rowid", Integer))))
    return SearchFilter(or_(*(column.ilike(like, escape="\\") for column in
                              (StoredItem.title, StoredItem.value, StoredItem.cve, StoredItem.key))))


def search_condition(session: Session, q: str) -> ColumnElement[bool]:
    """`search_filter`'s condition alone."""
    return search_filter(session, q).condition


def plain(expr: Any, by_id: bool) -> Any:
    """`expr` (an indexed column of `items`) as an expression no index serves, when `by_id`: SQLite then looks
    the search's hits up by id rather than walking that column's index."""
    if not by_id:
        return expr
    if isinstance(expr.type, Integer):
        return expr + 0
    if isinstance(expr.type, String):
        return expr.concat("")
    raise TypeError(f"plain() takes an integer or text column, not {expr.type!r}")


# Cursors ------------------------------------------------------------------------------------------

def encode_cursor(item: StoredItem) -> str:
    """The cursor after `item` in the default order."""
    stamp = item.published_at.isoformat() if item.published_at else None
    raw = json.dumps([stamp, item.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    """(published_at, id) from a cursor; ValidationFailed for anything this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, item_id = json.loads(raw)
        when = datetime.fromisoformat(stamp) if stamp is not None else None
        if not isinstance(item_id, int) or isinstance(item_id, bool) or item_id < 0:
            raise ValueError("id")
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationFailed("cursor er ugyldig; bruk next_cursor fra forrige side",
                               ["query.cursor: ugyldig"]) from None
    return when, item_id


def keyset_page(session: Session, stmt: Select[Any], cursor: str | None, limit: int,
                kinds: Sequence[str] = (), by_id: bool = False) -> list[StoredItem]:
    """One page in the default order after `cursor`: dated rows first (newest first), then undated ones.

    Each part is one range over the (kind, published_at DESC, id DESC) index, so the page's cost does not
    grow with how deep it is. With several kinds (the dashboard's indicators and exposures) each kind is
    one range and the pages are merged: an IN over the index's first column would sort the whole list. With
    `by_id` (a SQLite search that names its hits) the kind is `plain`."""
    if len(kinds) > 1:
        parts = [keyset_page(session, stmt.where(plain(StoredItem.kind, by_id) == kind), cursor, limit)
                 for kind in kinds]
        merged = heapq.merge(*parts, key=_sort_key)
        return list(itertools.islice(merged, limit))
    when, last_id = decode_cursor(cursor) if cursor else (None, None)
    newest = (_published_desc(session), StoredItem.id.desc())
    rows: list[StoredItem] = []
    if cursor is None or when is not None:
        dated = stmt.where(StoredItem.published_at.is_not(None))
        if when is not None and last_id is not None:
            dated = dated.where(tuple_(StoredItem.published_at, StoredItem.id) < tuple_(when, last_id))
        rows = list(session.scalars(dated.order_by(*newest).limit(limit)))
        if len(rows) == limit:
            return rows
        last_id = None
    undated = stmt.where(StoredItem.published_at.is_(None))
    if last_id is not None:
        undated = undated.where(StoredItem.id < last_id)
    rows += session.scalars(undated.order_by(StoredItem.id.desc()).limit(limit - len(rows)))
    return rows


def _sort_key(item: StoredItem) -> tuple[int, float, int]:
    """The default order as an ascending key: dated before undated, newest first, then the larger id."""
    if item.published_at is None:
        return (1, 0.0, -item.id)
    return (0, -item.published_at.timestamp(), -item.id)


# Counts -------------------------------------------------------------------------------------------

def capped_count(session: Session, stmt: Select[Any]) -> tuple[int, bool]:
    """(total, exact): exact up to COUNT_CAP rows, else the planner's estimate (PostgreSQL) or the cap."""
    counted = session.scalar(select(func.count()).select_from(stmt.with_only_columns(StoredItem.id)
                                                                 .order_by(None).limit(COUNT_CAP + 1).subquery())) or 0
    if counted <= COUNT_CAP:
        return counted, True
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        compiled = stmt.with_only_columns(StoredItem.id).order_by(None).compile(
            bind, compile_kwargs={"render_postcompile": True})
        found = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}",
                                                     compiled.params).scalar_one()
        plan = json.loads(found) if isinstance(found, str) else found
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, COUNT_CAP + 1), False
    return COUNT_CAP + 1, False


def _published_desc(session: Session) -> Any:
    """published_at newest first with NULLs last, written as the dialect's index is (SQLite's DESC puts NULLs
    last by itself; PostgreSQL's index says NULLS LAST)."""
    if session.get_bind().dialect.name == "postgresql":
        return StoredItem.published_at.desc().nulls_last()
    return StoredItem.published_at.desc()


def newest_first(session: Session, stmt: Select[Any]) -> Select[Any]:
    """The default order as a plain ORDER BY (for offset pages): the same as keyset_page's."""
    return stmt.order_by(_published_desc(session), StoredItem.id.desc())


# A run that wrote this many new rows refreshes the planner's statistics of `items` at once: the list,
# search and keyset plans depend on them, and autovacuum's own ANALYZE may be minutes away (or off).
ANALYZE_AFTER_ROWS = 20_000


def refresh_item_statistics(engine: Any, new_rows: int) -> bool:
    """`ANALYZE items` on PostgreSQL after a large ingest (best effort: a lock held elsewhere, e.g. by a
    concurrent ANALYZE or VACUUM, skips it after a second). True if it ran."""
    if new_rows < ANALYZE_AFTER_ROWS or engine is None or getattr(engine.dialect, "name", "") != "postgresql":
        return False
    import logging

    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            conn.execute(text("ANALYZE items"))
    except Exception as exc:  # noqa: BLE001 - statistics are an optimisation; the ingest has committed
        logging.getLogger(__name__).warning("ANALYZE items after the ingest was skipped (%s)", type(exc).__name__)
        return False
    return True
