"""holes: signed links carry a random reference (complaints.link_ref); console log-ins kept on the server
(console_sessions) so log-out and timeouts end them; phone and ID numbers masked in stored chat payloads and in
the free text of chat complaints (the numbers themselves are in the complainants' encrypted fields)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

import intake.foundation.models
from intake.conversation.inbound import cleaned_payload
from intake.foundation.validation import mask_numbers

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', intake.foundation.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_console_sessions_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_ref', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_complaints_link_ref'), ['link_ref'])
    _mask_stored_numbers()


_inbound = sa.table('inbound_messages', sa.column('id', sa.Integer), sa.column('payload', sa.JSON))
_complaints = sa.table('complaints', sa.column('id', sa.Integer), sa.column('channel', sa.String),
                       sa.column('free_text', sa.Text))


def _mask_stored_numbers() -> None:
    conn = op.get_bind()
    for row_id, payload in conn.execute(sa.select(_inbound.c.id, _inbound.c.payload)).all():
        if payload and (masked := cleaned_payload(payload)) != payload:
            conn.execute(_inbound.update().where(_inbound.c.id == row_id).values(payload=masked))
    chats = sa.select(_complaints.c.id, _complaints.c.free_text).where(_complaints.c.channel.in_(('wechat', 'sms')))
    for row_id, text in conn.execute(chats).all():
        if text and (masked := mask_numbers(text)) != text:
            conn.execute(_complaints.update().where(_complaints.c.id == row_id).values(free_text=masked))


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_complaints_link_ref'), type_='unique')
        batch_op.drop_column('link_ref')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_user_id'))
    op.drop_table('console_sessions')
