"""incidents (hendelser): links to constituents, items and matches, and a timeline

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa
import certmon.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _link_table(name: str, column: str, target: str) -> None:
    op.create_table(name,
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column(column, sa.Integer(), nullable=False),
    sa.Column('added_by', sa.String(length=320), nullable=False),
    sa.Column('added_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f(f'fk_{name}_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{name}_{column}_{target}'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', column, name=op.f(f'pk_{name}'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_{column}'), [column], unique=False)


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('tlp', sa.String(length=20), nullable=False),
    sa.Column('tlp_rank', sa.Integer(), nullable=False),
    sa.Column('aware_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reporting_model', sa.String(length=20), nullable=False),
    sa.Column('personal_data', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', certmon.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('reference', name=op.f('uq_incidents_reference'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_tlp_rank'), ['tlp_rank'], unique=False)

    _link_table('incident_constituents', 'constituent_id', 'constituents')
    _link_table('incident_items', 'item_id', 'items')
    _link_table('incident_matches', 'match_id', 'matches')

    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', certmon.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('deadline', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index('ix_incident_events_incident_at', ['incident_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('incident_events')
    op.drop_table('incident_matches')
    op.drop_table('incident_items')
    op.drop_table('incident_constituents')
    op.drop_table('incidents')
