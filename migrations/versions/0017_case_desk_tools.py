"""case desk tools: each department's canned replies to workers (常用回复); a duplicate complaint's survivor;
who added a staff document to a case and what it is; a site's 项目部 and 分包单位 (Art. 34)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 23:30:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('canned_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_canned_replies_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_replies'))
    )
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canned_replies_department_id'), ['department_id'], unique=False)
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_office', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('subcontractors', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('label', sa.String(length=40), nullable=True))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_complaints_duplicate_of_id_complaints'), 'complaints',
                                    ['duplicate_of_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_duplicate_of_id_complaints'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_complaints_duplicate_of_id'))
        batch_op.drop_column('duplicate_of_id')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('label')
        batch_op.drop_column('added_by')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('subcontractors')
        batch_op.drop_column('project_office')
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canned_replies_department_id'))
    op.drop_table('canned_replies')
