"""member unit clocks and inspections: a co-handler's reply deadline (co_handlings.due_at, replied_at), timers
that belong to a member unit's task instead of a complaint (timers.unit_task_id, complaint_id nullable), and 督查
inspections with their rectification items, published red and yellow lists, petitions (上访) over cases

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0020'
down_revision = '0019'
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
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('inspectors', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_inspections_department_id_departments')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_inspections_jurisdiction_code_jurisdictions')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_inspections_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections'))
    )
    op.create_index(op.f('ix_inspections_jurisdiction_code'), 'inspections', ['jurisdiction_code'], unique=False)
    op.create_table('rectification_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('finding', sa.Text(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('due_at', UTC, nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', UTC, nullable=True),
    sa.Column('answered_by', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_rectification_items_department_id_departments')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'],
                            name=op.f('fk_rectification_items_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_rectification_items_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_items'))
    )
    op.create_index(op.f('ix_rectification_items_department_id'), 'rectification_items', ['department_id'],
                    unique=False)
    op.create_index(op.f('ix_rectification_items_due_at'), 'rectification_items', ['due_at'], unique=False)
    op.create_index(op.f('ix_rectification_items_inspection_id'), 'rectification_items', ['inspection_id'],
                    unique=False)
    op.create_index(op.f('ix_rectification_items_jurisdiction_code'), 'rectification_items', ['jurisdiction_code'],
                    unique=False)


    op.create_table('ranking_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('published_by', sa.String(length=80), nullable=False),
    sa.Column('published_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_ranking_lists_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ranking_lists')),
    sa.UniqueConstraint('level', 'period_start', 'jurisdiction_code', name='uq_ranking_lists_level_period')
    )


    op.create_table('petitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('petitioned_at', UTC, nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_petitions_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_petitions_department_id_departments')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_petitions_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petitions'))
    )
    op.create_index(op.f('ix_petitions_complaint_id'), 'petitions', ['complaint_id'], unique=False)
    op.create_index('ix_petitions_petitioned_at', 'petitions', ['petitioned_at'], unique=False)


def downgrade() -> None:
    op.drop_table('petitions')
    op.drop_table('ranking_lists')
    op.drop_table('rectification_items')
    op.drop_table('inspections')
    op.execute("DELETE FROM timers WHERE complaint_id IS NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timers_unit_task_id_unit_tasks'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timers_unit_task_id'))
        batch_op.drop_column('unit_task_id')
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('co_handlings', schema=None) as batch_op:
        batch_op.drop_column('replied_at')
        batch_op.drop_column('due_at')
