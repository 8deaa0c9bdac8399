"""enforcement: each event carries the hash of the case's previous event and its own (the evidence chain);
orders to pay within a time limit

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:30:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('employer', sa.String(length=300), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('due_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('compensation_percent', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('compensation', sa.BigInteger(), nullable=True),
    sa.Column('issued_by', sa.String(length=100), nullable=False),
    sa.Column('issued_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_payment_orders_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_orders'))
    )
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_orders_complaint_id'), ['complaint_id'], unique=False)
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_orders_complaint_id'))
    op.drop_table('payment_orders')
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
