"""The statements of a chat turn, built once per process (composing one costs more than running it here).

They are on the tables, not the mapped classes, so the session runs them as plain SQL: the ORM's upsert, flush and
change tracking cost more than the statements on this request path. On PostgreSQL a first delivery and the lock
on its conversation are one statement, and so are the turn's outcome and the reply stored with the delivery (a
data-modifying WITH: the delivery's insert still decides before the conversation is touched); SQLite has no such
WITH and runs the halves one after the other, at no round trip's cost.
"""
from __future__ import annotations

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from intake.foundation.models import Conversation, InboundMessage

INBOUND = InboundMessage.__table__
CONVERSATIONS = Conversation.__table__
IDLE = "idle"
_INSERT = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def _first_delivery(dialect: str):
    """The delivery's row, or nothing when (channel, id) was stored before: the unique constraint decides."""
    return (_INSERT[dialect](INBOUND)
            .values(channel=bindparam("b_channel"), provider_message_id=bindparam("b_message_id"),
                    sender=bindparam("b_sender"), payload=bindparam("b_payload"), received_at=bindparam("b_now"))
            .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"]).returning(INBOUND.c.id))


def _opening(dialect: str):
    """INSERT ... ON CONFLICT DO UPDATE that creates the conversation or bumps its version, and returns it."""
    return (_INSERT[dialect](CONVERSATIONS)
            .values(channel=bindparam("b_channel"), user_id=bindparam("b_user_id"), state=IDLE,
                    draft=bindparam("b_draft"), version=1, created_at=bindparam("b_now"), updated_at=bindparam("b_now"))
            .on_conflict_do_update(index_elements=["channel", "user_id"],
                                   set_={"version": CONVERSATIONS.c.version + 1})
            .returning(*CONVERSATIONS.c))


def _opening_for_delivery():
    """PostgreSQL: the delivery stored, then its conversation opened as _opening does, only if it was new; the
    conversation's row comes back with the delivery's id, or no row for a repeat."""
    delivery = _first_delivery("postgresql").cte("delivery")
    c = CONVERSATIONS.c
    new = select(bindparam("b_channel", type_=c.channel.type), bindparam("b_user_id", type_=c.user_id.type),
                 literal(IDLE, c.state.type), bindparam("b_draft", type_=c.draft.type), literal(1, c.version.type),
                 bindparam("b_now", type_=c.created_at.type), bindparam("b_now", type_=c.updated_at.type)
                 ).select_from(delivery)
    return (pg_insert(CONVERSATIONS)
            .from_select(["channel", "user_id", "state", "draft", "version", "created_at", "updated_at"], new)
            .on_conflict_do_update(index_elements=["channel", "user_id"], set_={"version": c.version + 1})
            .returning(*CONVERSATIONS.c, select(delivery.c.id).scalar_subquery().label("delivery_id"))
            .add_cte(delivery, nest_here=True))


FIRST_DELIVERY = {dialect: _first_delivery(dialect) for dialect in _INSERT}
OPEN = {dialect: _opening(dialect) for dialect in _INSERT}
OPEN_FOR_DELIVERY = _opening_for_delivery()
STORE_REPLY = update(INBOUND).where(INBOUND.c.id == bindparam("b_delivery")).values(reply=bindparam("b_reply"))
SAVE = (update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("b_id"))
        .values(draft=bindparam("draft"), updated_at=bindparam("updated_at"), state=bindparam("state"),
                opted_out_at=bindparam("opted_out_at")))
SAVE_AND_REPLY = SAVE.add_cte(STORE_REPLY.cte("reply"), nest_here=True)  # PostgreSQL
