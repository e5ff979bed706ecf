"""situation reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import certmon.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_kind', sa.String(length=10), nullable=False),
    sa.Column('period_key', sa.String(length=30), nullable=False),
    sa.Column('period_start', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('tlp_max', sa.String(length=20), nullable=False),
    sa.Column('tlp', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=320), nullable=True),
    sa.Column('approved_at', certmon.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=True),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('html_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_period', ['period_kind', 'period_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_status'))
        batch_op.drop_index('ix_reports_period')
    op.drop_table('reports')
