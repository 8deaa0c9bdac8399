"""member units' follow-ups: an inspection's rectification items carry their reminders as timers
(timers.rectification_item_id); the worker's grade of a closed case (complaints.satisfaction, satisfaction_at),
which the tallies' satisfied / answered now count (and fully_satisfied, the 满意 alone) instead of the payment
confirmations; a petition against a site with no case (petitions.site_id, complaint_id optional)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)
# In a case's stored contribution ([kind, day, department, county, industry, investment, *counters]), where the
# satisfied and answered counters are.
SATISFIED, ANSWERED = 14, 15
BATCH = 1000


def _retally(grades_counted: bool) -> None:
    """No case is graded yet: the graded counters are all 0. Every bucket and every case's stored contribution is
    rewritten alike (satisfied and answered 0; fully_satisfied appended, or dropped going down), so the buckets
    stay the sum of the contributions and the next recount of a case moves only its real difference."""
    bind = op.get_bind()
    facts = sa.table('case_facts', sa.column('complaint_id', sa.Integer()), sa.column('tallied', sa.JSON()))
    bind.execute(sa.text("UPDATE daily_tallies SET satisfied = 0, answered = 0"))
    last = 0
    while True:
        rows = bind.execute(sa.select(facts.c.complaint_id, facts.c.tallied)
                            .where(facts.c.complaint_id > last, facts.c.tallied.is_not(None))
                            .order_by(facts.c.complaint_id).limit(BATCH)).all()
        if not rows:
            return
        changed = []
        for complaint_id, tallied in rows:
            for entry in tallied:
                entry[SATISFIED] = entry[ANSWERED] = 0
                if grades_counted:
                    entry.append(0)
                else:
                    del entry[-1]
            changed.append({"b_id": complaint_id, "b_tallied": tallied})
        bind.execute(facts.update().where(facts.c.complaint_id == sa.bindparam("b_id"))
                     .values(tallied=sa.bindparam("b_tallied")), changed)
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rectification_item_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_timers_rectification_item_id'), ['rectification_item_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_timers_rectification_item_id_rectification_items'),
                                    'rectification_items', ['rectification_item_id'], ['id'])
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('satisfaction', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('satisfaction_at', UTC, nullable=True))
    with op.batch_alter_table('daily_tallies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fully_satisfied', sa.Integer(), server_default='0', nullable=False))
    _retally(grades_counted=True)
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_petitions_site_id'), ['site_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_petitions_site_id_sites'), 'sites', ['site_id'], ['id'])
    op.execute("UPDATE petitions SET site_id = (SELECT site_id FROM complaints WHERE complaints.id = "
               "petitions.complaint_id)")


def downgrade() -> None:
    op.execute("DELETE FROM petitions WHERE complaint_id IS NULL")
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_petitions_site_id_sites'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_petitions_site_id'))
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('site_id')
    _retally(grades_counted=False)
    with op.batch_alter_table('daily_tallies', schema=None) as batch_op:
        batch_op.drop_column('fully_satisfied')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('satisfaction_at')
        batch_op.drop_column('satisfaction')
    op.execute("DELETE FROM timers WHERE rectification_item_id IS NOT NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timers_rectification_item_id_rectification_items'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timers_rectification_item_id'))
        batch_op.drop_column('rectification_item_id')
