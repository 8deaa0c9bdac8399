"""warnings: a warning's rectification deadline is a timer row the worker fires (timers.warning_id, a
complaint no longer required), one live warning per site and indicator (but public-opinion ones), and the site's
contract amount (what the wage guarantee deposit due is a share of); poster scans per site and day, and
inspectors' poster check-ins

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)
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
    op.create_table('site_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_scans_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_scans')),
    sa.UniqueConstraint('site_id', 'day', name='uq_site_scans_site_day')
    )
    op.create_table('poster_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('photo', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('taken_at', UTC, nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_poster_checkins_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poster_checkins'))
    )
    with op.batch_alter_table('poster_checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poster_checkins_site_id'), ['site_id'], unique=False)
    # The open key warnings' deadlines were found by a scan until now: each gets its timer.
    op.execute("INSERT INTO timers (warning_id, clock, due_at, version, state, attempts, created_at) "
               "SELECT id, 'warning_rectify', due_at, 0, 'pending', 0, opened_at FROM site_warnings "
               "WHERE status = 'open' AND due_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('poster_checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poster_checkins_site_id'))
    op.drop_table('poster_checkins')
    op.drop_table('site_scans')
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
