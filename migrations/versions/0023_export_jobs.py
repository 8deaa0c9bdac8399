"""export jobs: ledger exports written by the worker to a file under the instance folder, downloaded when ready

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 23:45:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('export_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('finished_at', UTC, nullable=True),
    sa.Column('expires_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_export_jobs_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs'))
    )
    op.create_index('ix_export_jobs_state_created_at', 'export_jobs', ['state', 'created_at'], unique=False)
    op.create_index(op.f('ix_export_jobs_user_id'), 'export_jobs', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_export_jobs_user_id'), table_name='export_jobs')
    op.drop_index('ix_export_jobs_state_created_at', table_name='export_jobs')
    op.drop_table('export_jobs')
