"""open311: a complainant's e-mail address as a client system gave it, encrypted like the phone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complainants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('complainants', schema=None) as batch_op:
        batch_op.drop_column('email')
