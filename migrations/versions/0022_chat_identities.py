"""chat identities: an SMS number is no longer kept in clear where it only says who someone is. Conversations,
inbound messages and the complaints of SMS senders are keyed by the number's identity (an HMAC under a key
derived from the secret key), an outbox text's destination too, with the number itself encrypted in the new
`outbox.phone`; what a dialogue draft keeps of a typed number is encrypted, and so is the text of a call-back
request to the dispatch desk (masked beside it).

Existing rows are converted under the keys the running command configured (`qingling db upgrade` goes through
the app factory). Going down puts back every number that is still known (a complainant's or an outbox row's).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 23:50:00
"""
import sqlalchemy as sa
from alembic import op

from intake.conversation.draft import sealed_mapped
from intake.delivery.outbox import SEALED_TEXT, opened, sealed
from intake.foundation import encryption

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

SMS = 'sms'
# (table, identity column, channel column) of the rows that name an SMS user.
_KEYED = (('conversations', 'user_id', 'channel'), ('inbound_messages', 'sender', 'channel'),
          ('complaints', 'channel_user_id', 'channel'))
_outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('destination', sa.String),
                   sa.column('phone', sa.Text), sa.column('payload', sa.JSON))
_conversations = sa.table('conversations', sa.column('id', sa.Integer), sa.column('draft', sa.JSON))
_complainants = sa.table('complainants', sa.column('phone', sa.Text))


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.Text(), nullable=True))
    _rekey(lambda value: value if encryption.is_identity(value) else encryption.identity(value))
    conn = op.get_bind()
    for row in conn.execute(sa.select(_outbox).where(_outbox.c.payload.is_not(None))).all():
        destinations, phone = _texted(row)
        values = {}
        if phone is not None:
            values = dict(destination=destinations[0], phone=encryption.encrypt(phone), payload={
                **row.payload, **({'fallbacks': destinations[1:]} if 'fallbacks' in row.payload else {})})
        payload = values.get('payload', row.payload)
        if payload.get('kind') == 'human_requested' and SEALED_TEXT not in payload:
            values['payload'] = payload | sealed(payload.get('text') or '')
        if values:
            conn.execute(_outbox.update().where(_outbox.c.id == row.id).values(values))
    _redraft(encryption.encrypt)


def _texted(row) -> tuple[list[str], str | None]:
    """The row's destination and fallbacks with each SMS number as its identity, and the number."""
    phone, stored = None, []
    for destination in [row.destination, *(row.payload.get('fallbacks') or [])]:
        kind, _, to = destination.partition(':')
        if kind == SMS and not encryption.is_identity(to):
            phone, destination = to, f'{SMS}:{encryption.identity(to)}'
        stored.append(destination)
    return stored, phone


def _rekey(change) -> None:
    conn = op.get_bind()
    for name, column, channel in _KEYED:
        table = sa.table(name, sa.column('id', sa.Integer), sa.column(column, sa.String), sa.column(channel, sa.String))
        rows = conn.execute(sa.select(table.c.id, table.c[column]).where(
            table.c[channel] == SMS, table.c[column].is_not(None))).all()
        for row_id, value in rows:
            if change(value) != value:
                conn.execute(table.update().where(table.c.id == row_id).values({column: change(value)}))


def _redraft(change) -> None:
    conn = op.get_bind()
    for row_id, draft in conn.execute(sa.select(_conversations.c.id, _conversations.c.draft)).all():
        if draft and (changed := sealed_mapped(draft, change)) != draft:
            conn.execute(_conversations.update().where(_conversations.c.id == row_id).values(draft=changed))


def downgrade() -> None:
    conn = op.get_bind()
    numbers = [encryption.decrypt(token) for token in conn.execute(sa.select(_complainants.c.phone).where(
        _complainants.c.phone.is_not(None))).scalars()]
    for row in conn.execute(sa.select(_outbox).where(_outbox.c.phone.is_not(None))).all():
        phone = encryption.decrypt(row.phone)
        numbers.append(phone)
        known = {f'{SMS}:{encryption.identity(phone)}': f'{SMS}:{phone}'}
        payload = dict(row.payload or {})
        if payload.get('fallbacks'):
            payload['fallbacks'] = [known.get(d, d) for d in payload['fallbacks']]
        conn.execute(_outbox.update().where(_outbox.c.id == row.id).values(
            destination=known.get(row.destination, row.destination), payload=payload))
    for row_id, payload in conn.execute(sa.select(_outbox.c.id, _outbox.c.payload)).all():
        if payload and SEALED_TEXT in payload:
            conn.execute(_outbox.update().where(_outbox.c.id == row_id).values(payload=opened(payload)))
    known = {encryption.identity(number): number for number in numbers}
    _rekey(lambda value: known.get(value, value))
    _redraft(encryption.decrypt)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('phone')
