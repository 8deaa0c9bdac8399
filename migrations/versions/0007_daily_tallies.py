"""daily tallies: the supervisors' counts per day and unit, and each case's unit on its facts, counted once
from the cases already there; open cases by deadline for the overdue counts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:02:08.689371
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models
from intake.supervision.tallies import rebuild

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('county', sa.String(length=12), nullable=False),
    sa.Column('industry', sa.String(length=20), nullable=False),
    sa.Column('investment', sa.String(length=20), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('ack_met', sa.Integer(), nullable=False),
    sa.Column('ack_missed', sa.Integer(), nullable=False),
    sa.Column('accept_met', sa.Integer(), nullable=False),
    sa.Column('accept_missed', sa.Integer(), nullable=False),
    sa.Column('reply_met', sa.Integer(), nullable=False),
    sa.Column('reply_missed', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('satisfied', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('claimed', sa.BigInteger(), nullable=False),
    sa.Column('recovered', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_tallies')),
    sa.UniqueConstraint('kind', 'day', 'department_id', 'county', 'industry', 'investment', name='uq_daily_tallies_bucket')
    )
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tallied', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('received_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('department_id', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('county', sa.String(length=12), server_default='', nullable=False))
        batch_op.add_column(sa.Column('industry', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('investment', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('is_open', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f('ix_case_facts_received_day'), ['received_day'], unique=False)
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_open_due', ['next_due_at', 'id'], unique=False,
                              sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"),
                              postgresql_include=['created_at', 'department_id', 'jurisdiction_code', 'site_id',
                                                  'supervised', 'collective_id', 'priority'])
        for name, where in (('ix_complaints_supervised_due', intake.foundation.models.SUPERVISED_OPEN),
                            ('ix_complaints_watch_due', intake.foundation.models.WATCHED_OPEN)):
            batch_op.create_index(name, ['next_due_at', 'id'], unique=False, sqlite_where=sa.text(where),
                                  postgresql_where=sa.text(where))
    rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_open_due')
        batch_op.drop_index('ix_complaints_supervised_due')
        batch_op.drop_index('ix_complaints_watch_due')
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_facts_received_day'))
        batch_op.drop_column('is_open')
        batch_op.drop_column('site_id')
        batch_op.drop_column('investment')
        batch_op.drop_column('industry')
        batch_op.drop_column('county')
        batch_op.drop_column('department_id')
        batch_op.drop_column('received_day')
        batch_op.drop_column('tallied')

    op.drop_table('daily_tallies')
