"""attachment originals: each stored file's original as received (sealed with the data key), its SHA-256 and the
time it was received, beside the cleaned copy

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.encryption
import intake.foundation.models

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original', intake.foundation.encryption.EncryptedBytes(), nullable=True))
        batch_op.add_column(sa.Column('original_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('received_at', UTC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('received_at')
        batch_op.drop_column('original_sha256')
        batch_op.drop_column('original')
