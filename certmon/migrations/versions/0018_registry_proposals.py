"""registry_proposals: changes to their own entry that constituent users propose for an analyst to decide

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
import sqlalchemy as sa

import certmon.db
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'registry_proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('constituent_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('asset_type', sa.String(length=20), nullable=True),
        sa.Column('value', sa.String(length=500), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('proposed_by', sa.String(length=320), nullable=False),
        sa.Column('decided_by', sa.String(length=320), nullable=True),
        sa.Column('created_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('decided_at', certmon.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['constituent_id'], ['constituents.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_registry_proposals_constituent_id', 'registry_proposals', ['constituent_id'])
    op.create_index('ix_registry_proposals_status', 'registry_proposals', ['status'])


def downgrade() -> None:
    op.drop_index('ix_registry_proposals_status', table_name='registry_proposals')
    op.drop_index('ix_registry_proposals_constituent_id', table_name='registry_proposals')
    op.drop_table('registry_proposals')
