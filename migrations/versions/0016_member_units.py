"""member units: tasks to departments and counties with a deadline, their answers, files and receipts; the
co-handlers of each case (from the co_handler_notified events routing wrote so far), whose scope now has it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 21:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('unit_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('due_at', UTC, nullable=False),
    sa.Column('issued_by', sa.String(length=80), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_unit_tasks_jurisdiction_code_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_tasks'))
    )
    op.create_index(op.f('ix_unit_tasks_due_at'), 'unit_tasks', ['due_at'], unique=False)
    op.create_table('unit_task_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', UTC, nullable=True),
    sa.Column('answered_by', sa.String(length=80), nullable=True),
    sa.Column('receipt_no', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_unit_task_assignments_department_id_departments')),
    sa.ForeignKeyConstraint(['jurisdiction_code'], ['jurisdictions.code'],
                            name=op.f('fk_unit_task_assignments_jurisdiction_code_jurisdictions')),
    sa.ForeignKeyConstraint(['task_id'], ['unit_tasks.id'], name=op.f('fk_unit_task_assignments_task_id_unit_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_task_assignments')),
    sa.UniqueConstraint('receipt_no', name=op.f('uq_unit_task_assignments_receipt_no')),
    sa.UniqueConstraint('task_id', 'department_id', 'jurisdiction_code', name='uq_unit_task_assignments_unit')
    )
    op.create_index(op.f('ix_unit_task_assignments_department_id'), 'unit_task_assignments', ['department_id'],
                    unique=False)
    op.create_index(op.f('ix_unit_task_assignments_jurisdiction_code'), 'unit_task_assignments',
                    ['jurisdiction_code'], unique=False)
    op.create_index(op.f('ix_unit_task_assignments_task_id'), 'unit_task_assignments', ['task_id'], unique=False)
    op.create_table('unit_task_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['unit_task_assignments.id'],
                            name=op.f('fk_unit_task_files_assignment_id_unit_task_assignments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_task_files'))
    )
    op.create_index(op.f('ix_unit_task_files_assignment_id'), 'unit_task_files', ['assignment_id'], unique=False)


    op.create_table('co_handlings',
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_co_handlings_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_co_handlings_department_id_departments')),
    sa.PrimaryKeyConstraint('complaint_id', 'department_id', name=op.f('pk_co_handlings'))
    )
    op.create_index('ix_co_handlings_department_id', 'co_handlings', ['department_id', 'complaint_id'], unique=False)
    _co_handlers_so_far()


def _co_handlers_so_far() -> None:
    """One row per case and department told, with every role it was told for, in the order first told."""
    events = sa.table('events', sa.column('complaint_id', sa.Integer), sa.column('kind', sa.String),
                      sa.column('data', sa.JSON), sa.column('created_at', UTC), sa.column('id', sa.Integer))
    found: dict[tuple[int, int], dict] = {}
    for complaint_id, data, at in op.get_bind().execute(
            sa.select(events.c.complaint_id, events.c.data, events.c.created_at)
            .where(events.c.kind == 'co_handler_notified').order_by(events.c.id)):
        if not isinstance(data, dict) or not isinstance(data.get('department_id'), int):
            continue
        row = found.setdefault((complaint_id, data['department_id']), {
            'complaint_id': complaint_id, 'department_id': data['department_id'], 'roles': [], 'created_at': at})
        row['roles'] = list(dict.fromkeys(row['roles'] + list(data.get('roles') or [])))
    if found:
        co = sa.table('co_handlings', sa.column('complaint_id', sa.Integer), sa.column('department_id', sa.Integer),
                      sa.column('roles', sa.JSON), sa.column('created_at', UTC))
        op.bulk_insert(co, list(found.values()))


def downgrade() -> None:
    op.drop_index('ix_co_handlings_department_id', table_name='co_handlings')
    op.drop_table('co_handlings')
    op.drop_index(op.f('ix_unit_task_files_assignment_id'), table_name='unit_task_files')
    op.drop_table('unit_task_files')
    op.drop_index(op.f('ix_unit_task_assignments_task_id'), table_name='unit_task_assignments')
    op.drop_index(op.f('ix_unit_task_assignments_jurisdiction_code'), table_name='unit_task_assignments')
    op.drop_index(op.f('ix_unit_task_assignments_department_id'), table_name='unit_task_assignments')
    op.drop_table('unit_task_assignments')
    op.drop_index(op.f('ix_unit_tasks_due_at'), table_name='unit_tasks')
    op.drop_table('unit_tasks')
