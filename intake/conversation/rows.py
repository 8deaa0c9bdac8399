"""The statements of a chat turn, built once per process (composing one costs more than running it here).

They are on the tables, not the mapped classes, so the session runs them as plain SQL: the ORM's upsert, flush and
change tracking cost more than the statements on this request path. On PostgreSQL a first delivery, the lock on
its conversation and the sender's open cases are one statement, and so are the turn's outcome and the reply
stored with the delivery (a data-modifying WITH: the delivery's insert still decides before the conversation is
touched); SQLite has no such WITH and runs the parts one after the other, at no round trip's cost.
"""
from __future__ import annotations

from sqlalchemy import and_, bindparam, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from intake.foundation.models import Complainant, Complaint, Conversation, InboundMessage, Status

INBOUND = InboundMessage.__table__
CONVERSATIONS = Conversation.__table__
IDLE = "idle"
# A worker with several open cases is asked which one; the newest this many are offered.
MAX_CHOICES = 5
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


def _my_cases(by_phone: bool, open_only: bool):
    """The ids of a worker's cases, newest first: filed from this channel identity (b_channel, b_user_id), or,
    `by_phone`, with a phone whose lookup hash is one of b_hashes."""
    complaints = Complaint.__table__
    mine = and_(complaints.c.channel == bindparam("b_channel"), complaints.c.channel_user_id == bindparam("b_user_id"))
    if by_phone:
        mine = or_(mine, complaints.c.complainant_id.in_(select(Complainant.__table__.c.id).where(
            Complainant.__table__.c.phone_hash.in_(bindparam("b_hashes", expanding=True)))))
    query = select(complaints.c.id).where(mine)
    if open_only:
        query = query.where(complaints.c.status != Status.CLOSED.value)
    return query.order_by(complaints.c.created_at.desc(), complaints.c.id.desc()).limit(MAX_CHOICES)


def _opening_for_delivery(by_phone: bool):
    """PostgreSQL: the delivery stored, then its conversation opened as _opening does, only if it was new; the
    conversation's row comes back with the delivery's id and the sender's open cases (`open_cases`, as
    MY_CASES[by_phone, True] finds them), or no row for a repeat. The cases are read in the statement's snapshot,
    taken before it waited for the conversation's lock: current only for a conversation this statement created
    (version 1), where no other turn held the lock."""
    delivery = _first_delivery("postgresql").cte("delivery")
    c = CONVERSATIONS.c
    new = select(bindparam("b_channel", type_=c.channel.type), bindparam("b_user_id", type_=c.user_id.type),
                 literal(IDLE, c.state.type), bindparam("b_draft", type_=c.draft.type), literal(1, c.version.type),
                 bindparam("b_now", type_=c.created_at.type), bindparam("b_now", type_=c.updated_at.type)
                 ).select_from(delivery)
    return (pg_insert(CONVERSATIONS)
            .from_select(["channel", "user_id", "state", "draft", "version", "created_at", "updated_at"], new)
            .on_conflict_do_update(index_elements=["channel", "user_id"], set_={"version": c.version + 1})
            .returning(*CONVERSATIONS.c, select(delivery.c.id).scalar_subquery().label("delivery_id"),
                       func.array(MY_CASES[by_phone, True].scalar_subquery()).label("open_cases"))
            .add_cte(delivery, nest_here=True))


FIRST_DELIVERY = {dialect: _first_delivery(dialect) for dialect in _INSERT}
OPEN = {dialect: _opening(dialect) for dialect in _INSERT}
MY_CASES = {(by_phone, open_only): _my_cases(by_phone, open_only) for by_phone in (False, True)
            for open_only in (False, True)}
OPEN_FOR_DELIVERY = {by_phone: _opening_for_delivery(by_phone) for by_phone in (False, True)}
STORE_REPLY = update(INBOUND).where(INBOUND.c.id == bindparam("b_delivery")).values(reply=bindparam("b_reply"))
SAVE = (update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("b_id"))
        .values(draft=bindparam("draft"), updated_at=bindparam("updated_at"), state=bindparam("state"),
                opted_out_at=bindparam("opted_out_at")))
SAVE_AND_REPLY = SAVE.add_cte(STORE_REPLY.cte("reply"), nest_here=True)  # PostgreSQL
