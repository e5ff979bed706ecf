"""items: the substring search covers labels too (a Feodo Tracker row's malware family, a feed's tags)

`q=emotet` found nothing in a Feodo Tracker blocklist: the family is a label, kept in `data`, and the search
indexes covered title, value, CVE id and key only.

- PostgreSQL: ix_items_search is made again over the same expression plus `data->>'labels'` (the labels as
  their JSON text), the expression certmon.items.search.PG_SEARCH_EXPR repeats;
- SQLite: the FTS5 table gets a fifth column, `labels`, and reads its external content from the view
  `items_search_source` (the four columns and `json_extract(data, '$.labels')`); filled again from the rows.
  The triggers (with 0020's condition) also fire on a change of `data`.

Filling the index again takes about as long as an ingest of the stored items' search columns: ~20 s per
million items on SQLite, a few minutes on PostgreSQL (the GIN index is built anew).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OLD_PG_EXPR = ("(coalesce(title, '') || chr(31) || coalesce(value, '') || chr(31) || coalesce(cve, '')"
               " || chr(31) || key)")
PG_SEARCH_EXPR = ("(coalesce(title, '') || chr(31) || coalesce(value, '') || chr(31) || coalesce(cve, '')"
                  " || chr(31) || key || chr(31) || coalesce(data->>'labels', ''))")
_ACTIVE = "WHEN NOT EXISTS (SELECT 1 FROM items_search_defer)"


def _triggers(columns: str, values: str, watched: str) -> tuple[str, ...]:
    """The three triggers of the SQLite index (with 0020's condition): `values` is the row's values for
    `columns`, written with `{row}` for new/old."""
    new, old = values.format(row="new"), values.format(row="old")
    return (
        f"""CREATE TRIGGER items_search_insert AFTER INSERT ON items {_ACTIVE} BEGIN
             INSERT INTO items_search(rowid, {columns}) VALUES ({new});
           END""",
        f"""CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
             INSERT INTO items_search(items_search, rowid, {columns}) VALUES ('delete', {old});
           END""",
        f"""CREATE TRIGGER items_search_update AFTER UPDATE OF {watched} ON items {_ACTIVE} BEGIN
             INSERT INTO items_search(items_search, rowid, {columns}) VALUES ('delete', {old});
             INSERT INTO items_search(rowid, {columns}) VALUES ({new});
           END""",
    )


_COLUMNS = "title, value, cve, key, labels"
SQLITE_TRIGGERS = _triggers(_COLUMNS, "{row}.id, {row}.title, {row}.value, {row}.cve, {row}.key, "
                            "json_extract({row}.data, '$.labels')", "title, value, cve, key, data")
_OLD_TRIGGERS = _triggers("title, value, cve, key", "{row}.id, {row}.title, {row}.value, {row}.cve, {row}.key",
                          "title, value, cve, key")
_NAMES = ('items_search_insert', 'items_search_delete', 'items_search_update')


def _drop_sqlite_index() -> None:
    for name in _NAMES:
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.execute('DROP TABLE IF EXISTS items_search')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_items_search')
        op.execute(f'CREATE INDEX ix_items_search ON items USING gin ({PG_SEARCH_EXPR} gin_trgm_ops)')
        return
    _drop_sqlite_index()
    op.execute("CREATE VIEW items_search_source AS SELECT id, title, value, cve, key, "
               "json_extract(data, '$.labels') AS labels FROM items")
    op.execute(f"CREATE VIRTUAL TABLE items_search USING fts5({_COLUMNS}, content='items_search_source', "
               "content_rowid='id', tokenize='trigram')")
    op.execute("INSERT INTO items_search(items_search) VALUES ('rebuild')")
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_items_search')
        op.execute(f'CREATE INDEX ix_items_search ON items USING gin ({OLD_PG_EXPR} gin_trgm_ops)')
        return
    _drop_sqlite_index()
    op.execute('DROP VIEW IF EXISTS items_search_source')
    op.execute("CREATE VIRTUAL TABLE items_search USING fts5(title, value, cve, key, content='items', "
               "content_rowid='id', tokenize='trigram')")
    op.execute("INSERT INTO items_search(items_search) VALUES ('rebuild')")
    for trigger in _OLD_TRIGGERS:
        op.execute(trigger)
