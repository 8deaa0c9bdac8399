"""supervision: case facts for figures and the ledger, entry counters, employer register

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 13:03:04.408584
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models
from intake.supervision.case_facts import rebuild

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('employers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employers')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_employers_credit_code')),
    sa.UniqueConstraint('name', name=op.f('uq_employers_name'))
    )
    op.create_table('employer_listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('listed_on', sa.Date(), nullable=False),
    sa.Column('term_years', sa.Integer(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('listed_by', sa.String(length=100), nullable=False),
    sa.Column('authority', sa.String(length=200), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('removed_reason', sa.Text(), nullable=True),
    sa.Column('removed_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_employer_listings_employer_id_employers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employer_listings'))
    )
    with op.batch_alter_table('employer_listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employer_listings_employer_id'), ['employer_id'], unique=False)

    op.create_table('entry_counters',
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'], name=op.f('fk_entry_counters_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('jurisdiction_code', 'year', name=op.f('pk_entry_counters'))
    )
    op.create_table('case_facts',
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('employer', sa.String(length=300), nullable=True),
    sa.Column('acknowledged_on_time', sa.Boolean(), nullable=True),
    sa.Column('contact_on_time', sa.Boolean(), nullable=True),
    sa.Column('accept_on_time', sa.Boolean(), nullable=True),
    sa.Column('reply_on_time', sa.Boolean(), nullable=True),
    sa.Column('accepted_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('investigated_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_case_facts_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('complaint_id', name=op.f('pk_case_facts'))
    )
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_facts_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_facts_employer'), ['employer'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_created_at', ['created_at'], unique=False)

    rebuild(op.get_bind())  # the facts of the cases already there, from their timelines



def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_created_at')

    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_facts_employer'))
        batch_op.drop_index(batch_op.f('ix_case_facts_closed_at'))

    op.drop_table('case_facts')
    op.drop_table('entry_counters')
    with op.batch_alter_table('employer_listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employer_listings_employer_id'))

    op.drop_table('employer_listings')
    op.drop_table('employers')
