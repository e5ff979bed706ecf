"""source run lock and every payload of a run

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import certmon.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('running_since', certmon.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('source_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_ids', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('source_runs', schema=None) as batch_op:
        batch_op.drop_column('payload_ids')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('running_since')
