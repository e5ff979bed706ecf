"""users: drop failed_logins and locked_until; wrong passwords slow one client down instead of locking
the account (counters in Redis or process memory: certmon.auth.throttle)

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from certmon.db import UTCDateTime

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('locked_until')
        batch.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('locked_until', UTCDateTime(timezone=True), nullable=True))
