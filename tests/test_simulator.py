"""The demo chat simulator: off unless demo mode, and the real channel step behind it (take), CSRF included."""
from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import func, select

from handlers import create_app
from handlers.runtime import services
from intake.case.notices import tell_worker
from intake.conversation import replies as R
from intake.delivery.outbox import enqueue
from intake.foundation.encryption import identity
from intake.foundation.models import Complaint, Conversation, InboundMessage, Site, utcnow
from tests.helpers import csrf_token

FIRST = "兰山区阳光城工地，老板欠我们8个人三万五"


@pytest.fixture
def app(configured_app):
    """The suite's app in demo mode."""
    return configured_app(demo=True)



def page(client) -> tuple[str, str, str]:
    """The chat page's HTML, its CSRF token and the message id it minted for the next message."""
    response = client.get("/demo/chat")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, csrf_token(html), re.search(r'name="message_id" value="([0-9a-f]{32})"', html).group(1)


def say(client, text: str = "", message_id: str | None = None, **fields) -> dict:
    """Send as the page's script does: the token in X-CSRFToken, the answer as JSON."""
    _html, token, minted = page(client)
    response = client.post("/demo/chat", data={"text": text, "message_id": message_id or minted, **fields},
                           headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert response.status_code == 200, response.data
    return response.get_json()


def test_off_unless_demo_mode(make_settings):
    client = create_app(make_settings()).test_client()
    for response in (client.get("/demo/chat"), client.post("/demo/chat", data={"text": "你好"})):
        assert response.status_code == 404
        assert "找不到这个页面" in response.get_data(as_text=True)


def test_a_wechat_conversation_ends_in_a_complaint(client, session):
    html, _token, _id = page(client)
    assert "微信" in html and "短信" in html
    assert say(client, FIRST)["reply"] == R.QUESTIONS["name"]
    assert say(client, "张三")["reply"] == R.QUESTIONS["phone"]
    # 阳光城工地 is not in this registry: kept in the worker's words beside the county
    assert say(client, "13812345678")["reply"].startswith("请核对：兰山区阳光城工地，8人，欠35000元，姓名张三")
    done = say(client, "确认")
    ticket = re.search(r"受理编号(\d{12})", done["reply"]).group(1)
    assert done["said"] == "确认" and re.fullmatch(r"[0-9a-f]{32}", done["message_id"])

    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert (complaint.channel, complaint.amount, complaint.workers) == ("wechat", 35000, 8)
    assert (complaint.site_id, complaint.project_name) == (None, "阳光城工地")
    assert complaint.complainant.phone == "13812345678"
    inbound = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert len(inbound) == 4 and {m.channel for m in inbound} == {"wechat"}
    assert all(m.provider_message_id.startswith("demo:") and m.sender.startswith("demo-") for m in inbound)
    assert ticket in client.get("/demo/chat").get_data(as_text=True)  # the history is read back


def test_notices_the_worker_receives_later_show_in_the_same_window(app, client, session):
    for text in (FIRST, "张三", "13812345678"):
        say(client, text)
    ticket = re.search(r"受理编号(\d{12})", say(client, "确认")["reply"]).group(1)
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert client.get("/demo/chat/notices?after=0").get_json() == {"notices": [], "last": 0}
    told = tell_worker(session, services(app).settings, complaint, "message", utcnow(), message="请把欠条拍照发过来")
    enqueue(session, "wechat:demo-someone-else", {"kind": "worker_message", "text": "别人的通知"})
    session.commit()
    assert told.destination == f"wechat:{complaint.channel_user_id}"
    html = client.get("/demo/chat").get_data(as_text=True)
    assert html.index(ticket) < html.index("请把欠条拍照发过来") and "别人的通知" not in html
    assert f'data-last-notice="{told.id}"' in html
    fresh = client.get("/demo/chat/notices?after=0").get_json()
    assert fresh == {"notices": [{"id": told.id, "text": told.payload["text"]}], "last": told.id}
    assert client.get(f"/demo/chat/notices?after={told.id}").get_json() == {"notices": [], "last": told.id}
    for bad in ("-1", "x", "9" * 40):
        assert client.get(f"/demo/chat/notices?after={bad}").status_code == 400


def test_sms_mode_uses_the_phone_and_never_asks_for_it(client, session):
    _html, token, _id = page(client)
    chosen = client.post("/demo/chat/identity", data={"mode": "sms", "phone": "138 1234 5678", "csrf_token": token})
    assert chosen.status_code == 303
    assert "本机 13812345678" in page(client)[0]
    assert say(client, FIRST)["reply"] == R.QUESTIONS["name"]
    summary = say(client, "张三")["reply"]
    assert summary.startswith("请核对：") and "138****5678" in summary
    ticket = re.search(r"受理编号(\d{12})", say(client, "确认")["reply"]).group(1)

    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert complaint.channel == "sms" and complaint.complainant.phone == "13812345678"
    assert session.scalar(select(Conversation.user_id)) == identity("13812345678")


def test_sms_mode_explains_how_to_connect_a_mainland_gateway(client):
    _html, token, _id = page(client)
    assert "接入真实短信" not in _html  # WeChat mode
    client.post("/demo/chat/identity", data={"mode": "sms", "phone": "13812345678", "csrf_token": token})
    html = page(client)[0]
    for step in ("签名", "模板", "回调地址", "https://qingling.test/sms/&lt;服务商&gt;/&lt;回调密钥&gt;/report"):
        assert step in html


def test_sms_mode_needs_a_phone(client):
    _html, token, _id = page(client)
    refused = client.post("/demo/chat/identity", data={"mode": "sms", "phone": "12345", "csrf_token": token})
    assert refused.status_code == 400 and "请填写11位手机号" in refused.get_data(as_text=True)


def test_scanning_a_demo_site_names_it(client, session):
    site = Site(code=secrets.token_hex(6), name="阳光城三期工地", jurisdiction_code="371302",
                public_token=secrets.token_urlsafe(16))
    session.add(site)
    session.commit()
    assert site.name in page(client)[0]
    scanned = say(client, site=site.public_token)
    assert scanned["said"] == "（扫描了阳光城三期工地的二维码）"
    assert scanned["reply"].startswith(R.SITE_GREETING.format(site=site.name))
    assert session.scalar(select(Conversation.draft))["site_id"] == site.id


def test_a_retried_message_gets_the_same_reply_and_changes_nothing(client, session):
    _html, _token, message_id = page(client)
    first = say(client, FIRST, message_id=message_id)
    again = say(client, FIRST, message_id=message_id)
    assert again["reply"] == first["reply"] == R.QUESTIONS["name"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    conversation = session.scalar(select(Conversation))
    assert conversation.version == 1 and conversation.draft["texts"] == [FIRST]


def test_without_javascript_the_form_posts_and_the_page_shows_the_reply(client):
    _html, token, message_id = page(client)
    posted = client.post("/demo/chat", data={"text": FIRST, "message_id": message_id, "csrf_token": token})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/demo/chat#end")
    html = client.get("/demo/chat").get_data(as_text=True)
    assert FIRST in html and R.QUESTIONS["name"] in html


def test_a_post_without_the_csrf_token_is_refused(client, session):
    _html, _token, message_id = page(client)
    refused = client.post("/demo/chat", data={"text": FIRST, "message_id": message_id},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


@pytest.mark.parametrize("fields", [{"text": "你好", "message_id": "../../x"}, {"text": "  "}])
def test_a_malformed_message_is_refused(client, fields):
    _html, token, message_id = page(client)
    data = {"message_id": message_id, **fields}
    assert client.post("/demo/chat", data=data, headers={"X-CSRFToken": token}).status_code == 400
