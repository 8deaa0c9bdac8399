"""case desk: the officer who has taken a case (承办人)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('officer_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_officer_id'), ['officer_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_complaints_officer_id_staff_users'), 'staff_users', ['officer_id'],
                                    ['id'])


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_officer_id_staff_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_complaints_officer_id'))
        batch_op.drop_column('officer_id')
