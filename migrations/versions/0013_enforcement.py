"""enforcement: each event carries the hash of the case's previous event and its own (the evidence chain)

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-04 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
