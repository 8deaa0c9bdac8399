"""privacy: phone and ID numbers encrypted at rest, with lookup hashes; retention marks anonymised cases

Existing phone numbers are encrypted here, under the data keys the running command configured (`qingling db
upgrade` goes through the app factory). Hashes of ID numbers made before this revision were keyed with
secret_key and cannot be recomputed (the number was never stored), so they are cleared.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 13:15:27.660071
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models
from intake.foundation import encryption

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

_complainants = sa.table('complainants', sa.column('id', sa.Integer), sa.column('phone', sa.Text),
                         sa.column('phone_hash', sa.String), sa.column('id_number_hash', sa.String))


def _rewrite_phones(convert) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_complainants.c.id, _complainants.c.phone)
                        .where(_complainants.c.phone.is_not(None))).all()
    for row_id, phone in rows:
        conn.execute(_complainants.update().where(_complainants.c.id == row_id).values(convert(phone)))


def upgrade() -> None:
    with op.batch_alter_table('complainants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('id_number', sa.Text(), nullable=True))
        batch_op.alter_column('phone', existing_type=sa.VARCHAR(length=20), type_=sa.Text(), existing_nullable=True)
        batch_op.drop_index(batch_op.f('ix_complainants_phone'))
        batch_op.create_index(batch_op.f('ix_complainants_phone_hash'), ['phone_hash'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True))

    _rewrite_phones(lambda phone: {"phone": encryption.encrypt(phone), "phone_hash": encryption.lookup_hash(phone)})
    op.execute(_complainants.update().values(id_number_hash=None))


def downgrade() -> None:
    _rewrite_phones(lambda token: {"phone": encryption.decrypt(token)})
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('complainants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complainants_phone_hash'))
        batch_op.create_index(batch_op.f('ix_complainants_phone'), ['phone'], unique=False)
        batch_op.alter_column('phone', existing_type=sa.Text(), type_=sa.VARCHAR(length=20), existing_nullable=True)
        batch_op.drop_column('id_number')
        batch_op.drop_column('phone_hash')
