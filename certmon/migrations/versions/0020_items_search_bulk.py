"""items: the SQLite search index is written in bulk by the ingest path (PostgreSQL: nothing changes)

The per-row triggers of migration 0019 made a new SQLite row cost ~75 µs more, about four times what
the same index entries cost when written by one INSERT … SELECT per batch (FTS5 flushes its pending
terms at the end of every statement, and a trigger runs one statement per row). The insert and update
triggers now stand aside while the table `items_search_defer` holds a row; `upsert_items` puts one
there around each batch it writes, indexes the batch itself, and takes it away again in the same
transaction, so no other writer ever sees it. Every other writer keeps the triggers.

Note for later migrations: on SQLite, `batch_alter_table('items')` copies the table and drops its triggers;
a migration that does so must create them again (SQLITE_TRIGGERS here).

Revision ID: 0020
Revises: 0014
Create Date: 2026-12-07
"""
from alembic import op

revision = '0020'
down_revision = '0014'
branch_labels = None
depends_on = None

_ACTIVE = "WHEN NOT EXISTS (SELECT 1 FROM items_search_defer)"
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER items_search_insert AFTER INSERT ON items {_ACTIVE} BEGIN
         INSERT INTO items_search(rowid, title, value, cve, key) VALUES (new.id, new.title, new.value, new.cve, new.key);
       END""",
    """CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
         INSERT INTO items_search(items_search, rowid, title, value, cve, key)
         VALUES ('delete', old.id, old.title, old.value, old.cve, old.key);
       END""",
    f"""CREATE TRIGGER items_search_update AFTER UPDATE OF title, value, cve, key ON items {_ACTIVE} BEGIN
         INSERT INTO items_search(items_search, rowid, title, value, cve, key)
         VALUES ('delete', old.id, old.title, old.value, old.cve, old.key);
         INSERT INTO items_search(rowid, title, value, cve, key) VALUES (new.id, new.title, new.value, new.cve, new.key);
       END""",
)
_NAMES = ('items_search_insert', 'items_search_delete', 'items_search_update')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute('CREATE TABLE items_search_defer (since INTEGER NOT NULL)')
    for name in _NAMES:
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in _NAMES:
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    for trigger in SQLITE_TRIGGERS:  # those of 0019: the same without the condition
        op.execute(trigger.replace(f" {_ACTIVE}", ""))
    op.execute('DROP TABLE IF EXISTS items_search_defer')
