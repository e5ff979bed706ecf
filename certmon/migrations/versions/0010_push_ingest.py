"""push ingest: source_feeders (feeder accounts allowed to push to a source) and source_runs.pushed_by

Revision ID: 0010
Revises: 0013
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

import certmon.db

revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_feeders',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_source_feeders_source_id_sources'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_source_feeders_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'user_id', name=op.f('pk_source_feeders'))
    )
    with op.batch_alter_table('source_feeders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_feeders_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('source_runs') as batch:
        batch.add_column(sa.Column('pushed_by', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_runs') as batch:
        batch.drop_column('pushed_by')
    with op.batch_alter_table('source_feeders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_feeders_user_id'))
    op.drop_table('source_feeders')
