"""warnings: a public-opinion warning pushed by a client system carries the client and its reference (unique, so
a retried push records it once); a poster check-in's photo may be dropped by the retention sweep (photo and
content type nullable, photo_removed_at)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

UTC = intake.foundation.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('site_warnings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('client_ref', sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_site_warnings_client_id_api_clients'), 'api_clients',
                                    ['client_id'], ['id'])
        batch_op.create_unique_constraint('uq_site_warnings_client_ref', ['client_id', 'client_ref'])
    with op.batch_alter_table('poster_checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('photo_removed_at', UTC, nullable=True))
        batch_op.alter_column('photo', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column('content_type', existing_type=sa.String(length=50), nullable=True)


def downgrade() -> None:
    # A check-in whose photo is gone cannot go back to a photo that is required: it goes.
    op.execute("DELETE FROM poster_checkins WHERE photo IS NULL")
    with op.batch_alter_table('poster_checkins', schema=None) as batch_op:
        batch_op.alter_column('content_type', existing_type=sa.String(length=50), nullable=False)
        batch_op.alter_column('photo', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('photo_removed_at')
    with op.batch_alter_table('site_warnings', schema=None) as batch_op:
        batch_op.drop_constraint('uq_site_warnings_client_ref', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_site_warnings_client_id_api_clients'), type_='foreignkey')
        batch_op.drop_column('client_ref')
        batch_op.drop_column('client_id')
