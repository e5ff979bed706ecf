"""items: a keyset index for the lists and a substring search index (certmon/items/search.py)

- ix_items_kind_published becomes (kind, published_at DESC [NULLS LAST], id DESC): the lists' default
  order, so a page after a cursor is one index range however deep it is (and period counts by
  publication still use it);
- PostgreSQL: pg_trgm and one GIN trigram index over title, value, CVE and key joined by chr(31), the
  expression certmon.items.search.PG_SEARCH_EXPR repeats;
- SQLite: an FTS5 table with the trigram tokenizer over the same four columns (external content: it
  stores only the index), filled from the existing rows and kept in step by triggers.

Note for later migrations: on SQLite, `batch_alter_table('items')` copies the table and drops its triggers;
a migration that does so must create the three items_search triggers again (SQLITE_TRIGGERS).

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op

revision = '0019'
down_revision = '0015'
branch_labels = None
depends_on = None

PG_SEARCH_EXPR = ("(coalesce(title, '') || chr(31) || coalesce(value, '') || chr(31) || coalesce(cve, '')"
                  " || chr(31) || key)")
SQLITE_TRIGGERS = (
    """CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
         INSERT INTO items_search(rowid, title, value, cve, key) VALUES (new.id, new.title, new.value, new.cve, new.key);
       END""",
    """CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
         INSERT INTO items_search(items_search, rowid, title, value, cve, key)
         VALUES ('delete', old.id, old.title, old.value, old.cve, old.key);
       END""",
    """CREATE TRIGGER items_search_update AFTER UPDATE OF title, value, cve, key ON items BEGIN
         INSERT INTO items_search(items_search, rowid, title, value, cve, key)
         VALUES ('delete', old.id, old.title, old.value, old.cve, old.key);
         INSERT INTO items_search(rowid, title, value, cve, key) VALUES (new.id, new.title, new.value, new.cve, new.key);
       END""",
)


def upgrade() -> None:
    op.drop_index('ix_items_kind_published', table_name='items')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_items_kind_published ON items (kind, published_at DESC NULLS LAST, id DESC)')
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute(f'CREATE INDEX ix_items_search ON items USING gin ({PG_SEARCH_EXPR} gin_trgm_ops)')
        return
    op.execute('CREATE INDEX ix_items_kind_published ON items (kind, published_at DESC, id DESC)')
    op.execute("CREATE VIRTUAL TABLE items_search USING fts5(title, value, cve, key, content='items', "
               "content_rowid='id', tokenize='trigram')")
    op.execute("INSERT INTO items_search(items_search) VALUES ('rebuild')")
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_items_search')
    else:
        for name in ('items_search_insert', 'items_search_delete', 'items_search_update'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
        op.execute('DROP TABLE IF EXISTS items_search')
    op.drop_index('ix_items_kind_published', table_name='items')
    op.create_index('ix_items_kind_published', 'items', ['kind', 'published_at'], unique=False)
