"""warnings: a warning's rectification deadline is a timer row the worker fires (timers.warning_id, a
complaint no longer required), one live warning per site and indicator (but public-opinion ones), and the site's
contract amount (what the wage guarantee deposit due is a share of)

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0016'
branch_labels = None
depends_on = None

LIVE = sa.text("status <> 'cleared' AND grade <> 'opinion'")


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_amount', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warning_id', sa.Integer(), nullable=True))
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_timers_warning_id'), ['warning_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_timers_warning_id_site_warnings'), 'site_warnings',
                                    ['warning_id'], ['id'])
    with op.batch_alter_table('site_warnings', schema=None) as batch_op:
        batch_op.create_index('uq_site_warnings_live', ['site_id', 'indicator'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)
    # The open key warnings' deadlines were found by a scan until now: each gets its timer.
    op.execute("INSERT INTO timers (warning_id, clock, due_at, version, state, attempts, created_at) "
               "SELECT id, 'warning_rectify', due_at, 0, 'pending', 0, opened_at FROM site_warnings "
               "WHERE status = 'open' AND due_at IS NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM timers WHERE warning_id IS NOT NULL")
    with op.batch_alter_table('site_warnings', schema=None) as batch_op:
        batch_op.drop_index('uq_site_warnings_live')
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timers_warning_id_site_warnings'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timers_warning_id'))
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('warning_id')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('contract_amount')
