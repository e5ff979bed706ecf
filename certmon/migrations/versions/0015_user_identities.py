"""user_identities: links from an OpenID Connect provider's subject (as an HMAC) to a certmon user

Revision ID: 0015
Revises: 0018
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import certmon.db

revision = '0015'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_identities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=40), nullable=False),
        sa.Column('subject_digest', sa.String(length=64), nullable=False),
        sa.Column('linked_by', sa.String(length=20), nullable=False),
        sa.Column('created_at', certmon.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_login_at', certmon.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_identities_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_identities')),
        sa.UniqueConstraint('provider', 'subject_digest', name=op.f('uq_user_identities_provider_subject_digest')),
    )
    with op.batch_alter_table('user_identities') as batch:
        batch.create_index(batch.f('ix_user_identities_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_identities') as batch:
        batch.drop_index(batch.f('ix_user_identities_user_id'))
    op.drop_table('user_identities')
