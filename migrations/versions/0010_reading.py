"""reading: each unit's town and street-office names, so a town alone places a complaint in its county; each
site's aliases (别名/简称), the names workers use for it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('towns', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('aliases', sa.JSON(), server_default='[]', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('aliases')
    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.drop_column('towns')
