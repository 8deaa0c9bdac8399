"""wave routing: the collective look-up key on complaints (indexed) and when a collective was flagged

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models
from intake.case.routing import collective_key

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collective_key', sa.String(length=340), nullable=True))
        batch_op.create_index('ix_complaints_collective_key', ['collective_key', 'created_at'], unique=False)
    with op.batch_alter_table('collective_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flagged_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True))
    _backfill_keys()


def _backfill_keys() -> None:
    """Routed complaints get the key routing would have given them, so later ones still find them."""
    bind = op.get_bind()
    complaints = sa.table('complaints', sa.column('id', sa.Integer), sa.column('site_id', sa.Integer),
                          sa.column('jurisdiction_code', sa.String), sa.column('claim', sa.JSON),
                          sa.column('status', sa.String), sa.column('collective_key', sa.String))
    rows = bind.execute(sa.select(complaints.c.id, complaints.c.site_id, complaints.c.jurisdiction_code,
                                  complaints.c.claim).where(complaints.c.status != 'received')).all()
    keys = [{"cid": cid, "key": collective_key(site_id, county, claim)} for cid, site_id, county, claim in rows]
    keys = [k for k in keys if k["key"] is not None]
    if keys:
        bind.execute(complaints.update().where(complaints.c.id == sa.bindparam("cid"))
                     .values(collective_key=sa.bindparam("key")), keys)


def downgrade() -> None:
    with op.batch_alter_table('collective_cases', schema=None) as batch_op:
        batch_op.drop_column('flagged_at')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_collective_key')
        batch_op.drop_column('collective_key')
