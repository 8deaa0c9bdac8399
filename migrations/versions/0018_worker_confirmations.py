"""worker confirmations: each claim line's phone (encrypted, with its lookup hash), its own signed link and its
worker's answer to 工资到手了吗 (asked, reminders, confirmed or disputed, when and how)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 23:40:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.encryption
import intake.foundation.models

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', intake.foundation.encryption.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('link_ref', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('confirmation', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('asked_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('reminders', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('answered_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('answered_via', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_claim_lines_phone_hash'), ['phone_hash'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_claim_lines_link_ref'), ['link_ref'])


def downgrade() -> None:
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_claim_lines_link_ref'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_claim_lines_phone_hash'))
        for column in ('answered_via', 'answered_at', 'reminders', 'asked_at', 'confirmation', 'link_ref',
                       'phone_hash', 'phone'):
            batch_op.drop_column(column)
