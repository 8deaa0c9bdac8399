"""member unit clocks: a co-handler's reply deadline (co_handlings.due_at, replied_at) and timers that belong to
a member unit's task instead of a complaint (timers.unit_task_id, complaint_id nullable)

Revision ID: 0022
Revises: 0016
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0022'
down_revision = '0016'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('co_handlings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('replied_at', UTC, nullable=True))
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('unit_task_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_timers_unit_task_id'), ['unit_task_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_timers_unit_task_id_unit_tasks'), 'unit_tasks', ['unit_task_id'],
                                    ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM timers WHERE complaint_id IS NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timers_unit_task_id_unit_tasks'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timers_unit_task_id'))
        batch_op.drop_column('unit_task_id')
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('co_handlings', schema=None) as batch_op:
        batch_op.drop_column('replied_at')
        batch_op.drop_column('due_at')
