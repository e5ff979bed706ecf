"""Scrub credentials that earlier versions stored in clear: feed URLs' user:password and secret query
parameters in run errors, a source's last error, a payload's URL and the audit of source changes
(certmon.logsafety.redact_secrets; a source's own URL is kept, it is needed for fetching)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from certmon.logsafety import redact_secrets

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None

TEXT_COLUMNS = (("sources", "last_error"), ("source_runs", "error"), ("payloads", "url"))


def _scrub_text(conn: sa.Connection, table: str, column: str) -> None:
    t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    rows = conn.execute(sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None))).all()
    for row_id, value in rows:
        hidden = redact_secrets(value)
        if hidden != value:
            conn.execute(sa.update(t).where(t.c.id == row_id).values({column: hidden}))


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in TEXT_COLUMNS:
        _scrub_text(conn, table, column)
    audit = sa.table("audit_log", sa.column("id", sa.Integer), sa.column("action", sa.String),
                     sa.column("detail", sa.JSON))
    for row_id, detail in conn.execute(sa.select(audit.c.id, audit.c.detail)
                                       .where(audit.c.action.in_(("source.create", "source.update")))).all():
        if isinstance(detail, dict) and isinstance(detail.get("url"), str):
            hidden = redact_secrets(detail["url"])
            if hidden != detail["url"]:
                conn.execute(sa.update(audit).where(audit.c.id == row_id).values(detail={**detail, "url": hidden}))


def downgrade() -> None:
    pass  # what was hidden is not brought back
