"""The core's inbound pipeline, without Flask: every chat delivery is stored once under the provider's message id
and answered once; a repeat gets the stored reply; the same id from another sender is refused."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from intake.conversation.inbound import ForeignRepeat, Inbound, receive, record_status
from intake.delivery.outbox import sms_destination
from intake.foundation.encryption import identity
from intake.foundation.models import Complaint, Conversation, InboundMessage, Outbox

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=timezone.utc)
CLAIM = "兰山区阳光城工地，老板欠我们8个人三万五"


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_repeated_delivery_is_stored_once_and_answered_with_the_first_reply(session, settings):
    first = Inbound(channel="sms", message_id="tw:SM1", user_id="13912345678", text=CLAIM, phone="13912345678")
    reply = receive(session, settings, first, now=NOW)
    session.commit()
    version = session.scalar(select(Conversation.version).where(Conversation.user_id == identity("13912345678")))
    again = receive(session, settings, first, now=NOW)
    session.commit()
    assert reply and again == reply
    assert count(session, InboundMessage, InboundMessage.provider_message_id == "tw:SM1") == 1
    user = identity("13912345678")
    assert session.scalar(select(Conversation.version).where(Conversation.user_id == user)) == version


def test_the_same_id_from_another_sender_is_refused_and_changes_nothing(session, settings):
    receive(session, settings, Inbound(channel="sms", message_id="tw:SM2", user_id="13912345678", text=CLAIM),
            now=NOW)
    session.commit()
    with pytest.raises(ForeignRepeat):
        receive(session, settings, Inbound(channel="sms", message_id="tw:SM2", user_id="13800000000", text="你好"),
                now=NOW)
    session.rollback()
    assert count(session, InboundMessage) == 1
    assert count(session, Conversation, Conversation.user_id == identity("13800000000")) == 0


def test_a_gateway_reply_goes_to_the_outbox_once_per_message_id(session, settings):
    inbound = Inbound(channel="sms", message_id="ali:9", user_id="13912345678", text="帮助")
    for _ in range(2):
        receive(session, settings, inbound, now=NOW, reply_to="sms:13912345678")
        session.commit()
    assert count(session, Outbox, Outbox.destination == sms_destination("13912345678")) == 1
    assert count(session, Complaint) == 0


def test_delivery_reports_never_move_a_message_back(session):
    for status in ("sent", "delivered", "sent"):
        record_status(session, "twilio", "SM9", status, NOW)
    session.commit()
    row = session.scalar(select(InboundMessage).where(InboundMessage.provider_message_id == "twilio:SM9"))
    assert row.payload["status"] == "delivered"
