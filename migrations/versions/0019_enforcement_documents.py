"""enforcement: each event's place in its case's hash chain (sealed at commit under a per-case lock instead of a
row lock on the complaint), numbered for the chains already written by walking their links; transfers to the
police with their receipt and decision; 失信 listings drafted, then approved or rejected (the existing ones approved); the steps of a case's plan (一案一策); notices to clear an employer out of the construction market and their replies

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('chain_index', sa.Integer(), nullable=True))
    _number_existing_chains(op.get_bind())
    with op.batch_alter_table('events') as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_events_complaint_id'), ['complaint_id', 'chain_index'])
    op.create_table('police_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('police', sa.String(length=200), nullable=False),
    sa.Column('transferred_by', sa.String(length=100), nullable=False),
    sa.Column('transferred_at', UTC, nullable=False),
    sa.Column('receipt_due_at', UTC, nullable=False),
    sa.Column('received_at', UTC, nullable=True),
    sa.Column('receipt_note', sa.String(length=500), nullable=True),
    sa.Column('decision_due_at', UTC, nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'],
                            name=op.f('fk_police_transfers_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_police_transfers'))
    )
    op.create_index(op.f('ix_police_transfers_complaint_id'), 'police_transfers', ['complaint_id'], unique=False)
    op.create_table('plan_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('due_at', UTC, nullable=False),
    sa.Column('added_by', sa.String(length=100), nullable=False),
    sa.Column('added_at', UTC, nullable=False),
    sa.Column('done_at', UTC, nullable=True),
    sa.Column('done_by', sa.String(length=100), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_plan_steps_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_steps'))
    )
    op.create_index(op.f('ix_plan_steps_complaint_id'), 'plan_steps', ['complaint_id'], unique=False)
    op.create_table('clearing_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('employer', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('sent_by', sa.String(length=100), nullable=False),
    sa.Column('sent_at', UTC, nullable=False),
    sa.Column('reply_due_at', UTC, nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_at', UTC, nullable=True),
    sa.Column('replied_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'],
                            name=op.f('fk_clearing_notices_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_clearing_notices_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clearing_notices'))
    )
    op.create_index(op.f('ix_clearing_notices_complaint_id'), 'clearing_notices', ['complaint_id'], unique=False)
    with op.batch_alter_table('employer_listings') as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=20), server_default='approved', nullable=False))
        batch_op.add_column(sa.Column('decided_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('decided_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('decision_note', sa.Text(), nullable=True))


def _number_existing_chains(conn) -> None:
    """Follow each case's links from its first sealed event; events off the walk (a fork) stay unnumbered, and
    `qingling evidence verify` goes on reporting them."""
    events = sa.table('events', sa.column('id'), sa.column('complaint_id'), sa.column('prev_hash'),
                      sa.column('hash'), sa.column('chain_index'))
    rows = conn.execute(sa.select(events.c.complaint_id, events.c.id, events.c.prev_hash, events.c.hash)
                        .where(events.c.hash.is_not(None)).order_by(events.c.complaint_id, events.c.id))
    numbered, case_id, following = [], None, {}

    def walk():
        head, index = None, 0
        while following.get(head):
            event_id, head = following.pop(head)[0]
            index += 1
            numbered.append({'event_id': event_id, 'index': index})

    for complaint_id, event_id, prev_hash, hash_ in rows:
        if complaint_id != case_id:
            walk()
            case_id, following = complaint_id, {}
        following.setdefault(prev_hash, []).append((event_id, hash_))
    walk()
    if numbered:
        conn.execute(events.update().where(events.c.id == sa.bindparam('event_id'))
                     .values(chain_index=sa.bindparam('index')), numbered)


def downgrade() -> None:
    op.drop_index(op.f('ix_clearing_notices_complaint_id'), table_name='clearing_notices')
    op.drop_table('clearing_notices')
    op.drop_index(op.f('ix_plan_steps_complaint_id'), table_name='plan_steps')
    op.drop_table('plan_steps')
    with op.batch_alter_table('employer_listings') as batch_op:
        for column in ('decision_note', 'decided_at', 'decided_by', 'state'):
            batch_op.drop_column(column)
    op.drop_index(op.f('ix_police_transfers_complaint_id'), table_name='police_transfers')
    op.drop_table('police_transfers')
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_events_complaint_id'), type_='unique')
        batch_op.drop_column('chain_index')
