"""findings: the register of hidden arrears found in 摸排 inspections, apart from the cases

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=300), nullable=True),
    sa.Column('employer', sa.String(length=300), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('workers', sa.Integer(), nullable=True),
    sa.Column('found_by', sa.String(length=100), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('amount_paid', sa.BigInteger(), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=True),
    sa.Column('closed_at', UTC, nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_findings_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_findings_jurisdiction_code_jurisdictions')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_findings_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings')),
    sa.UniqueConstraint('jurisdiction_code', 'reference', name='uq_findings_county_reference')
    )
    op.create_index('ix_findings_jurisdiction_code_status', 'findings', ['jurisdiction_code', 'status'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_findings_jurisdiction_code_status', table_name='findings')
    op.drop_table('findings')
