"""What a pass from outside found (issue 17), each hole with the test that would have caught it: forgeable
links, leaks across scope, sessions that outlive log-out, 500s on odd input."""
from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest
from itsdangerous import URLSafeTimedSerializer
from PIL import Image, ImageCms
from sqlalchemy import event, select

from handlers import create_app
from handlers.cli.doctor import check_rate_limits
from handlers.runtime import services
from intake.case import cases
from intake.case.complaints import NewComplaint, create_complaint, find_for_worker
from intake.conversation.inbound import Inbound, receive
from intake.foundation import encryption
from intake.foundation.models import Complaint, ConsoleSession, InboundMessage, Status
from intake.foundation.settings import RateLimitSettings, SettingsError, with_secret_key
from intake.reading.photos import check_photo
from tests.helpers import (
    API_BODY,
    CHAT_T0,
    PHONE,
    SMS_CALLBACK_SECRET,
    TWILIO,
    Chat,
    act,
    aliyun_settings,
    auth,
    complaint_count,
    csrf_token,
    ctx,
    exported,
    filled,
    flashed,
    form_fields,
    login,
    make_accounts,
    make_client,
    outbox,
    reload,
    routed,
    signed_post,
    submit,
    text_in,
    worker_pass,
)


def resolved(app, session, settings, site) -> Complaint:
    complaint = routed(app, session, settings, site)
    for step in (cases.acknowledge, cases.accept):
        step(session, complaint, ctx(app), actor="staff:1")
    cases.resolve(session, complaint, ctx(app), actor="staff:1", outcome="老板已付清", amount_recovered=12000,
                  workers_paid=3)
    session.commit()
    return complaint


# ---------------------------------------------------------------- 1. signed links


def test_a_confirm_link_cannot_be_forged_from_the_row_id(app, client, session, settings, lanshan_site):
    complaint = resolved(app, session, settings, lanshan_site)
    (asked,) = outbox(session, complaint, "worker_resolved")
    link = re.search(r"https://qingling\.test(/c/\S+?)确认", asked.payload["text"]).group(1)
    forged = [URLSafeTimedSerializer(key, salt="qingling.confirm").dumps(complaint.id)
              for key in ("", settings.secret_key)]
    forged += [URLSafeTimedSerializer(settings.secret_key, salt="confirm link").dumps(complaint.link_ref)]
    for token in forged:
        assert client.get(f"/c/{token}").status_code == 404
    carried = URLSafeTimedSerializer("any").loads_unsafe(link.removeprefix("/c/"))[1]
    assert carried == complaint.link_ref and len(carried) >= 24  # a random reference, not the row id
    page = client.get(link).get_data(as_text=True)
    assert client.post(link, data={"csrf_token": csrf_token(page), "paid": "yes"}).status_code == 200
    session.expire_all()
    assert session.get(Complaint, complaint.id).status == Status.CLOSED.value


@pytest.mark.parametrize("key", ["", "short-key"])
def test_outside_demo_mode_the_service_refuses_a_missing_or_weak_secret_key(settings, key):
    with pytest.raises(SettingsError, match="QINGLING_SECRET_KEY.*qingling keys generate"):
        create_app(replace(settings, secret_key=key))


def test_demo_mode_makes_its_secret_key_once_and_keeps_it(settings, tmp_path):
    demo = replace(settings, secret_key="", demo=True)
    first = with_secret_key(demo, tmp_path).secret_key
    assert len(first) >= 32 and with_secret_key(demo, tmp_path).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert with_secret_key(demo, tmp_path / "elsewhere").secret_key != first


# ---------------------------------------------------------------- 4. console sessions


def test_a_cookie_copied_before_log_out_does_not_work_after_it(app, client, session):
    users = make_accounts(session)
    login(client, users["staff"])
    copied = client.get_cookie("session").value
    page = client.get("/console/").get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf_token(page)})
    client.set_cookie("session", copied)
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=13))])
def test_a_session_ends_when_idle_and_at_its_absolute_lifetime(app, client, session, column, age):
    users = make_accounts(session)
    login(client, users["staff"])
    assert client.get("/console/").status_code == 200
    login_row = session.scalars(select(ConsoleSession)).one()
    setattr(login_row, column, getattr(login_row, column) - age)
    if column == "created_at":
        login_row.last_seen_at = login_row.created_at + age  # in use all along, but begun too long ago
    session.commit()
    assert client.get("/console/").status_code == 302


def test_a_csrf_token_from_before_log_in_is_refused_after_it(app, client, session):
    users = make_accounts(session)
    before = csrf_token(client.get("/console/login").get_data(as_text=True))
    login(client, users["staff"])
    assert client.post("/console/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/console/").status_code == 200


# ---------------------------------------------------------------- 2. clue dedupe across scopes


def test_a_clue_seen_before_is_not_disclosed_to_a_client_outside_its_scope(client, session):
    clue = {**API_BODY, "source": {"system": "12345", "external_id": "GD-2026-0042"}}
    first = client.post("/api/v1/complaints", json=clue, headers=auth(make_client(session, "hotline")))
    outsider = make_client(session, "lanling", role="county_supervisor", county="371324")
    again = client.post("/api/v1/complaints", json=clue, headers=auth(outsider))
    body = again.get_data(as_text=True)
    assert again.status_code == 409 and again.get_json()["type"].endswith("#problem-clue-seen")
    assert first.get_json()["ticket_no"] not in body and "5678" not in body and "35000" not in body
    insider = make_client(session, "lanshan", role="county_supervisor", county="371302")
    assert client.post("/api/v1/complaints", json=clue, headers=auth(insider)).status_code == 200
    assert complaint_count(session) == 1


# ---------------------------------------------------------------- 6. big numbers, 13. signs

HUGE = "99999999999999999999999"


def test_huge_amounts_in_the_console_get_a_message_and_change_nothing(app, client, session, settings, lanshan_site):
    users = make_accounts(session)
    case = routed(app, session, settings, lanshan_site)
    login(client, users["staff"])
    for action in ("acknowledge", "accept"):
        assert act(client, case.ticket_no, action).status_code == 303
    attempts = [("claim_line", {"worker_name": "张三", "amount": HUGE}),
                ("claim_line", {"worker_name": "李四", "amount": "-5"}),
                ("payment", {"line_id": HUGE, "amount_paid": "10"}),
                ("transfer", {"department_id": HUGE, "reason": "派错了"}),
                ("request_extension", {"clock": "accept", "days": HUGE, "reason": "材料多"}),
                ("resolve", {"outcome": "已付清", "amount_recovered": HUGE, "workers_paid": "3"}),
                ("resolve", {"outcome": "已付清", "amount_recovered": "12000", "workers_paid": HUGE})]
    for action, fields in attempts:
        response = act(client, case.ticket_no, action, **fields)
        assert response.status_code in (303, 403), (action, response.status_code)
        if response.status_code == 303:
            assert "flash error" in flashed(client, response), action
    complaint = reload(session, case)
    assert complaint.status == Status.ACCEPTED.value and not complaint.claim_lines


@pytest.mark.parametrize("field", ["amount", "workers", "months"])
@pytest.mark.parametrize("typed", ["-5", "－5", "−5", HUGE])
def test_the_web_form_refuses_negative_and_huge_numbers(client, session, lanshan_site, field, typed):
    response = submit(client, f"/s/{lanshan_site.public_token}", **{field: typed})
    assert response.status_code == 200 and complaint_count(session) == 0
    assert ("不要带负号" if "5" == typed[-1] and len(typed) == 2 else "数字") in response.get_data(as_text=True)


# ---------------------------------------------------------------- 7. provider ids


def test_a_signed_twilio_message_with_huge_ids_is_refused_not_a_500(configured_app, session):
    client = configured_app(twilio=TWILIO).test_client()
    assert text_in(client, "你好", "SM" + "a" * 5000).status_code == 400
    assert text_in(client, "你好", "SM1", sender="+" + "8" * 3000).status_code == 400
    status = signed_post(client, "/sms/twilio/status", {"MessageSid": "SM" + "b" * 5000, "MessageStatus": "sent"})
    assert status.status_code == 400
    assert text_in(client, "你好", "SM2").status_code == 200


def test_one_aliyun_report_with_a_huge_biz_id_does_not_fail_its_batch(configured_app, session):
    client = configured_app(**aliyun_settings("http://127.0.0.1:9")).test_client()
    good = {"biz_id": "1234^0", "success": True, "phone_number": PHONE, "err_code": "DELIVERED"}
    response = client.post(f"/sms/aliyun/{SMS_CALLBACK_SECRET}/report", json=[good, {**good, "biz_id": "9" * 5000}])
    assert response.status_code == 200 and response.get_json()["refused"] == [1]
    assert session.scalar(select(InboundMessage.provider_message_id).where(
        InboundMessage.channel == "sms-status")) == "aliyun:1234^0"


# ---------------------------------------------------------------- 12. characters XML cannot carry


def test_characters_xml_cannot_carry_are_cleaned_at_input(client, session, lanshan_site):
    key = make_client(session, "open311-xml")
    form = {"service_code": "wage_arrears", "phone": "13912345678", "address_id": "S-1",
            "description": "老板\ufffe欠我们\uffff三个人一万二\x0b", "last_name": "张\uffff", "first_name": "三"}
    created = client.post("/open311/v2/requests.xml", data={**form, "api_key": key})
    ticket = ElementTree.fromstring(created.data).findtext("request/service_request_id")
    found = ElementTree.fromstring(client.get(f"/open311/v2/requests/{ticket}.xml?api_key={key}").data)
    assert found.findtext("request/service_request_id") == ticket
    stored = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert stored.free_text == "老板欠我们三个人一万二" and stored.complainant.name == "张 三"


# ---------------------------------------------------------------- 10. body limits


def test_a_huge_url_encoded_form_is_refused_like_a_multipart_one(client, session, lanshan_site):
    url = f"/s/{lanshan_site.public_token}"
    data = form_fields(client, url) | filled(free_text="欠" * 1_000_000)
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(url, data=data, content_type=content_type)
        assert response.status_code == 413 and "欠欠欠" not in response.get_data(as_text=True)
    assert complaint_count(session) == 0


# ---------------------------------------------------------------- 15. dates in the deployment's time zone


def test_console_pages_show_a_complaint_just_after_midnight_beijing_time_on_its_beijing_day(
        app, client, session, settings, lanshan_site):
    just_after_midnight = datetime(2026, 12, 4, 18, 25, tzinfo=timezone.utc)  # 2026-12-05 02:25 in Beijing
    create_complaint(session, NewComplaint(channel="web", phone="13900001111", name="李四", site_id=lanshan_site.id,
                                           workers=4, amount=20000, free_text="包工头不给钱",
                                           claim={"employer": "临沂恒达建筑劳务有限公司"}))
    session.commit()
    worker_pass(app)
    complaint = session.scalars(select(Complaint)).one()
    complaint.created_at = just_after_midnight
    for step in complaint.events:
        step.created_at = just_after_midnight
    session.commit()
    login(client, make_accounts(session)["admin"])
    pages = ["/console/", f"/console/cases/{complaint.ticket_no}", "/console/employers",
             "/console/employers/view?name=临沂恒达建筑劳务有限公司"]
    texts = [client.get(page).get_data(as_text=True) for page in pages]
    for page, text in zip([*pages, "/console/ledger.csv"], [*texts, exported(app, client, "/console/ledger.csv").text]):
        assert "2026-12-04" not in text and "12月4日" not in text, page
    assert "2026-12-05" in client.get("/console/employers").get_data(as_text=True)


# ---------------------------------------------------------------- 9. status look-up timing


def test_a_missing_ticket_costs_the_same_work_as_wrong_digits(app, session, settings, lanshan_site, monkeypatch):
    complaint = routed(app, session, settings, lanshan_site)
    decrypted = []
    monkeypatch.setattr(encryption, "decrypt", lambda token: decrypted.append(token) or "13912345678")
    work = {}
    for name, ticket in (("wrong digits", complaint.ticket_no), ("missing", "999999999999")):
        statements, decrypted[:] = [], []

        def listen(_conn, _cursor, statement, *_args, statements=statements):
            statements.append(statement)

        event.listen(session.get_bind(), "before_cursor_execute", listen)
        assert find_for_worker(session, ticket, "0000") is None
        event.remove(session.get_bind(), "before_cursor_execute", listen)
        work[name] = (statements, len(decrypted))
    assert work["wrong digits"] == work["missing"] and work["missing"][1] == 1
    session.commit()
    assert reload(session, complaint).lookup_failures == 1


# ---------------------------------------------------------------- 8. rate limits per process


def test_several_web_processes_without_a_shared_limit_storage_fail_the_doctor(make_settings, caplog):
    several = make_settings(web_processes=2)
    assert not check_rate_limits(several).ok
    services(create_app(several)).engine.dispose()
    assert "RATE LIMITS ARE PER PROCESS" in caplog.text
    shared = make_settings(web_processes=2, ratelimit=RateLimitSettings(storage_uri="redis://127.0.0.1:6379"))
    assert check_rate_limits(shared).ok and check_rate_limits(make_settings()).ok
    assert check_rate_limits(make_settings(web_processes=2, demo=True)).ok


# ---------------------------------------------------------------- 5. decompression bombs, 11. image metadata


def padded_png(side: int, padding: int) -> bytes:
    """A PNG whose header claims side x side RGBA pixels, padded with a text chunk so it looks like a photo's
    size: the header is all a limit may read."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"tEXt", b"pad\x00" + b"x" * padding) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_padded_huge_pngs_are_refused_from_their_headers_by_their_pixels_together(client, session, lanshan_site):
    bombs = [(padded_png(7070, 320_000), f"{n}.png") for n in range(6)]
    response = submit(client, f"/s/{lanshan_site.public_token}", photos=bombs)
    assert response.status_code == 200 and "加起来太大" in response.get_data(as_text=True)
    assert complaint_count(session) == 0


def test_markup_in_a_colour_profile_does_not_survive_the_re_encode():
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", icc_profile=profile + b"<img src=x onerror=alert(1)>", quality=90)
    for keep_location in (False, True):
        stored = check_photo("x.jpg", out.getvalue(), 8 * 1024 * 1024, keep_location).content
        assert b"onerror" not in stored and b"ICC_PROFILE" not in stored
        with Image.open(io.BytesIO(stored)) as reread:
            assert "icc_profile" not in reread.info and reread.getpixel((32, 24))[0] > 150


# ---------------------------------------------------------------- 3. phone numbers in clear


def test_a_phone_number_typed_in_a_chat_is_kept_encrypted_only(session, settings, chat_sites):
    inbound = Inbound(channel="wechat", message_id="m-1", user_id="openid-1", text="我的电话 138 0000 1234",
                      payload={"Content": "我的电话 138 0000 1234", "FromUserName": "openid-1"})
    receive(session, settings, inbound, now=CHAT_T0)
    session.commit()
    stored = session.scalar(select(InboundMessage.payload).where(InboundMessage.provider_message_id == "m-1"))
    assert stored["Content"] == "我的电话 138****1234"
    chat = Chat(session, settings, user="openid-2")
    for text in ("河东区沂河花园三期欠钱了", "三万五", "8", "李四", "13800001234", "确认"):
        chat.say(text)
    complaint = session.scalars(select(Complaint)).one()
    assert complaint.complainant.phone == "13800001234" and "13800001234" not in complaint.free_text


def test_free_text_shown_to_staff_and_clients_masks_numbers_until_the_audited_reveal(app, client, session, settings,
                                                                                  lanshan_site):
    create_complaint(session, NewComplaint(channel="web", phone="13900001111", name="李四", site_id=lanshan_site.id,
                                           free_text="老板电话13712345678，我身份证370102199003071234"))
    session.commit()
    worker_pass(app)
    complaint = session.scalars(select(Complaint)).one()
    key = make_client(session, "open311-app")
    [found] = client.get(f"/open311/v2/requests/{complaint.ticket_no}.json?api_key={key}").get_json()
    assert found["description"] == "老板电话137****5678，我身份证370102********1234"
    login(client, make_accounts(session)["admin"])
    page = client.get(f"/console/cases/{complaint.ticket_no}").get_data(as_text=True)
    assert "137****5678" in page and "13712345678" not in page and "370102199003071234" not in page
    revealed = client.post(f"/console/cases/{complaint.ticket_no}/reveal", data={"csrf_token": csrf_token(page)})
    assert "老板电话13712345678" in revealed.get_data(as_text=True)
