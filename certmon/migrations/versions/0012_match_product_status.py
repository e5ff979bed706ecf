"""matches: product_status, the vendor's word (affected / under_investigation) for a product match

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches') as batch:
        batch.add_column(sa.Column('product_status', sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matches') as batch:
        batch.drop_column('product_status')
