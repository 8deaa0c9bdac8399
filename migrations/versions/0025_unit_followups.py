"""member units' follow-ups: an inspection's rectification items carry their reminders as timers
(timers.rectification_item_id)

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rectification_item_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_timers_rectification_item_id'), ['rectification_item_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_timers_rectification_item_id_rectification_items'),
                                    'rectification_items', ['rectification_item_id'], ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM timers WHERE rectification_item_id IS NOT NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timers_rectification_item_id_rectification_items'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timers_rectification_item_id'))
        batch_op.drop_column('rectification_item_id')
