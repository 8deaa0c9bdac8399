"""worker thread: a worker's next message finds their open cases by the channel identity they filed from

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:45:00
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_channel_user_id'), ['channel_user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_channel_user_id'))
