"""reports: assessment_tlp, the analysts' own marking of their assessment (the label is never below it)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.add_column(sa.Column('assessment_tlp', sa.String(length=20), nullable=False, server_default='clear'))


def downgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.drop_column('assessment_tlp')
