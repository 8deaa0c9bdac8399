"""console: deadlines, audit log, inbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:50:10.413151
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_audit_log_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_ticket_no'), ['ticket_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadlines', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('next_due_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_complaints_department_due', ['department_id', 'next_due_at', 'id'], unique=False)
        batch_op.create_index('ix_complaints_due', ['next_due_at', 'id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_destination_id', ['destination', 'id'], unique=False)

    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbox_seen_id', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_login_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True))




def downgrade() -> None:
    
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('inbox_seen_id')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_destination_id')

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_due')
        batch_op.drop_index('ix_complaints_department_due')
        batch_op.drop_column('next_due_at')
        batch_op.drop_column('deadlines')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_ticket_no'))
        batch_op.drop_index(batch_op.f('ix_audit_log_created_at'))

    op.drop_table('audit_log')

