"""items: an index for the TAXII server's keyset paging over (date_added, id) within one TLP level

The TAXII collections page through indicators in (updated_at, id) order, one TLP level per staff
collection; without an index each page would sort the whole level. Partial (indicators only), so
advisories, vulnerabilities and exposures pay nothing for it.

Revision ID: 0014
Revises: 0019
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0019'
branch_labels = None
depends_on = None

WHERE = sa.text("kind = 'indicator'")


def upgrade() -> None:
    op.create_index('ix_items_indicator_added', 'items', ['tlp_rank', 'updated_at', 'id'], unique=False,
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index('ix_items_indicator_added', table_name='items')
