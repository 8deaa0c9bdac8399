"""What a pass from outside found (issue 17), each hole with the test that would have caught it: forgeable
links, leaks across scope, sessions that outlive log-out, 500s on odd input."""
from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from cryptography.fernet import Fernet
from itsdangerous import URLSafeTimedSerializer
from PIL import Image, ImageCms
from sqlalchemy import JSON, String, Text, cast, event, select
from sqlalchemy import text as sa_text

from handlers import create_app
from handlers.cli.doctor import check_rate_limits
from handlers.runtime import services
from intake.case import cases
from intake.case.complaints import NewComplaint, create_complaint, find_for_worker
from intake.case.notices import tell_worker
from intake.conversation.draft import Draft
from intake.conversation.inbound import Inbound, receive
from intake.delivery.outbox import enqueue, opened, sealed, sms_destination
from intake.foundation import encryption
from intake.foundation.db import make_engine
from intake.foundation.models import (
    Base,
    Complainant,
    Complaint,
    ConsoleSession,
    Conversation,
    InboundMessage,
    Outbox,
    Status,
    utcnow,
)
from intake.foundation.settings import PrivacySettings, RateLimitSettings, SettingsError, with_secret_key
from intake.privacy.key_rotation import rotate_keys
from intake.reading.photos import check_photo
from migrations import downgrade, upgrade
from tests.helpers import (
    API_BODY,
    CHAT_T0,
    PHONE,
    SMS_CALLBACK_SECRET,
    TWILIO,
    Chat,
    FakeApi,
    act,
    aliyun_settings,
    aliyun_uplink,
    auth,
    complaint_count,
    csrf_token,
    ctx,
    deliver,
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


def test_a_workers_photos_have_an_hourly_budget_of_pixels_over_all_their_posts(app_with, session, lanshan_site):
    client = app_with(uploads={"max_worker_pixels_per_hour": 3_000_000}).test_client()
    out = io.BytesIO()
    Image.new("RGB", (1000, 1000), "white").save(out, "PNG")  # a million pixels each
    two = [(out.getvalue(), "1.png"), (out.getvalue(), "2.png")]
    url = f"/s/{lanshan_site.public_token}"
    assert submit(client, url, photos=two, phone="13900001111").status_code == 303
    refused = submit(client, url, photos=two, phone="13900001111")
    assert refused.status_code == 200 and "这一个小时里您传的照片太多了" in refused.get_data(as_text=True)
    assert complaint_count(session) == 1  # nothing of the refused post was stored
    assert submit(client, url, photos=two[:1], phone="13900001111").status_code == 303  # what is left of it
    assert submit(client, url, photos=two, phone="13900002222").status_code == 303  # another worker's own budget
    assert complaint_count(session) == 3


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


def _stored_texts(session) -> str:
    """Every text, JSON and encrypted column of every table as the database holds it, read with plain SQL."""
    session.rollback()
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = getattr(column.type, "impl_instance", column.type)
            if isinstance(kind, String | JSON):
                found += [str(v) for v in session.scalars(select(cast(column, Text))) if v is not None]
    return "\n".join(found)


def _uplink(client, text: str, n: int):
    response = client.post(f"/sms/aliyun/{SMS_CALLBACK_SECRET}", json=[aliyun_uplink(PHONE, text, n)])
    assert response.status_code == 200 and "refused" not in response.get_json()
    return response


def test_no_phone_number_is_stored_in_clear_after_a_whole_sms_conversation_and_its_notices(
        app, configured_app, session, chat_sites):
    api = FakeApi(lambda n: (200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{n}", "RequestId": "r"}))
    sms_app = configured_app(**aliyun_settings(api.url))
    client = sms_app.test_client()
    for n, text in enumerate(("兰山区阳光城工地，老板欠我们8个人三万五", "张三", "确认"), 1):
        _uplink(client, text, n)
    deliver(sms_app)
    complaint = session.scalars(select(Complaint)).one()
    for step in (cases.acknowledge, cases.accept):
        step(session, complaint, ctx(sms_app), actor="staff:1")
    session.commit()
    _uplink(client, "查询进度", 4)  # texting again finds the case by the number's identity
    _uplink(client, "欠条拍好了", 5)  # and news goes on it
    _uplink(client, "人工", 6)  # the dispatch desk is asked to call back
    deliver(sms_app)
    api.close()
    session.expire_all()
    assert complaint.ticket_no in session.scalar(select(InboundMessage.reply).where(
        InboundMessage.provider_message_id == "aliyun:880004"))
    assert any(e.kind == "worker_wrote" for e in session.get(Complaint, complaint.id).events)
    numbers = [parse_qs(urlsplit(r["path"]).query)["PhoneNumbers"][0] for r in api.requests]
    assert len(numbers) >= 8 and set(numbers) == {PHONE}  # six replies and the notices went to the phone
    login(client, make_accounts(session)["admin"])  # the city administrator reads the dispatch desk's inbox
    assert f"请求人工帮助：{PHONE}" in client.get("/console/").get_data(as_text=True)
    stored_text = _stored_texts(session)
    assert complaint.ticket_no in stored_text  # the scan reads what was stored
    assert PHONE not in stored_text


def test_key_rotation_covers_what_outbox_rows_and_drafts_keep_encrypted(make_settings, session, chat_sites):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def keyed(*keys: str):
        return create_app(make_settings(privacy=PrivacySettings(data_key=keys[0], previous_data_keys=keys[1:])))

    old = keyed(old_key)
    worker, typed = Chat(session, services(old).settings, user="openid-typed"), "13700001234"
    worker.say("兰山区阳光城工地，老板欠我们8个人三万五")
    worker.say(f"我叫李四，电话{typed}")  # kept in the draft until 确认
    texter = Chat(session, services(old).settings, channel="sms", user=PHONE, phone=PHONE)
    for text in ("兰山区阳光城工地，老板欠我们8个人三万五", "张三", "确认"):
        texter.say(text)
    complaint = session.scalars(select(Complaint)).one()
    notice = tell_worker(session, services(old).settings, complaint, "accepted", utcnow())
    call_back = enqueue(session, "department:1", sealed(f"请回电{PHONE}"))
    session.commit()

    rotating = keyed(new_key, old_key)
    report = rotate_keys(services(rotating).sessions, 2)
    assert report.rotated >= 3  # the complainant, the outbox row's number, the draft
    assert rotate_keys(services(rotating).sessions, 2).rotated == 0

    keyed(new_key)  # the old key is gone: everything is read under the new one alone
    session.expire_all()
    assert session.get(Outbox, notice.id).phone == PHONE
    assert opened(session.get(Outbox, call_back.id).payload)["text"] == f"请回电{PHONE}"
    assert complaint.ticket_no in texter.say("查询").text  # the identity did not change
    filed = worker.say("确认")  # the draft's number opens under the new key
    assert filed.complaint_created
    typed_case = session.scalar(select(Complaint).where(Complaint.ticket_no == filed.ticket_no))
    assert typed_case.complainant.phone == typed


BEFORE_IDENTITIES = "0021"  # the revision before 0022_chat_identities


def test_the_migration_keys_stored_sms_numbers_by_their_identity_and_going_down_puts_them_back(
        make_settings, scratch_database):
    engine = make_engine(scratch_database)
    upgrade(engine, BEFORE_IDENTITIES)
    migrating = create_app(replace(make_settings(), database=replace(make_settings().database, url=scratch_database)))
    sessions = services(migrating).sessions
    with sessions.begin() as s:
        person = Complainant(phone=PHONE, name="张三")
        s.add(person)
        s.flush()
        s.execute(Complaint.__table__.insert(),  # Core, like Outbox below: later migrations add model columns
                  {"ticket_no": "250101000001", "channel": "sms", "channel_user_id": PHONE, "complainant_id": person.id})
        s.add_all([Conversation(channel="sms", user_id=PHONE, state="idle", draft={}),
                   Conversation(channel="wechat", user_id="openid-1", state="collecting",
                                draft={"phone": "13700001234"}),
                   InboundMessage(channel="sms", provider_message_id="twilio:SM1", sender=PHONE, payload={})])
        s.execute(Outbox.__table__.insert(), [  # Core: the model's new `phone` is not in this schema yet
            {"destination": f"sms:{PHONE}", "payload": {"text": "已受理"}, "state": "pending", "attempts": 0,
             "next_try_at": CHAT_T0, "created_at": CHAT_T0},
            {"destination": "wechat:openid-1", "payload": {"text": "x", "fallbacks": [f"sms:{PHONE}"]},
             "state": "pending", "attempts": 0, "next_try_at": CHAT_T0, "created_at": CHAT_T0},
            {"destination": "department:1", "payload": {"kind": "human_requested", "text": f"请回电{PHONE}"},
             "state": "sent", "attempts": 1, "next_try_at": CHAT_T0, "created_at": CHAT_T0}])
    upgrade(engine)
    with sessions() as s:
        assert _stored_texts(s).count(PHONE) == 0 and "13700001234" not in _stored_texts(s)
        assert s.scalar(select(Complaint.channel_user_id)) == encryption.identity(PHONE)
        assert s.scalar(select(InboundMessage.sender)) == encryption.identity(PHONE)
        users = dict(s.execute(select(Conversation.channel, Conversation.user_id)).all())
        assert users == {"sms": encryption.identity(PHONE), "wechat": "openid-1"}
        texts = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert [(r.destination, r.phone) for r in texts] == [
            (sms_destination(PHONE), PHONE), ("wechat:openid-1", PHONE), ("department:1", None)]
        assert opened(texts[2].payload)["text"] == f"请回电{PHONE}"
        assert texts[1].payload["fallbacks"] == [sms_destination(PHONE)]
        draft = s.scalar(select(Conversation.draft).where(Conversation.channel == "wechat"))
        assert Draft.from_json(draft).phone == "13700001234"
        assert Chat(s, services(migrating).settings, channel="sms", user=PHONE, phone=PHONE).say("查询").text.count(
            "250101000001") == 1  # the worker who texts again is still found
    downgrade(engine, BEFORE_IDENTITIES)
    with engine.connect() as conn:
        assert conn.execute(sa_text("SELECT user_id FROM conversations WHERE channel = 'sms'")).scalar() == PHONE
        assert conn.execute(sa_text("SELECT channel_user_id FROM complaints")).scalar() == PHONE
        assert [d for (d,) in conn.execute(sa_text("SELECT destination FROM outbox ORDER BY id"))] == [
            f"sms:{PHONE}", "wechat:openid-1", "department:1"]
    services(migrating).engine.dispose()
    engine.dispose()
