"""The worker's web form, receipt and status pages, through the real app on the real database."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from handlers import create_app
from intake.foundation.models import Attachment, Complaint, Event, Status
from intake.foundation.settings import RateLimitSettings
from tests.helpers import csrf_token, filled, form_fields, jpeg, make_site, stored, submit, ticket_of

NOT_FOUND = "没有找到这个编号，请检查受理编号和手机号后四位"
SCRIPT = "<script>alert(1)</script>"


def test_site_form_shows_the_site_and_a_phone_friendly_form(client, session):
    site = make_site(session)
    page = client.get(f"/s/{site.public_token}")
    assert page.status_code == 200
    html = page.text
    assert "阳光城三期工地" in html and "兰山区" in html and "兰山区沂蒙路100号" in html
    assert 'inputmode="tel"' in html and 'accept="image/jpeg,image/png"' in html and "multiple" in html
    assert 'name="workers" type="text" value="1"' in html
    assert "匿名反映：不向用人单位透露您的身份" in html
    assert "我确认以上内容属实，同意相关部门依法使用这些信息处理我的问题" in html
    assert 'name="county"' not in html and 'name="project_name"' not in html


def test_happy_path_stores_complaint_photo_and_event_then_shows_receipt(client, session):
    site = make_site(session)
    url = f"/s/{site.public_token}"
    response = submit(client, url, photos=[(jpeg(), "欠条.jpg")], phone="１３８ ００１３ ８０００",
                      amount="３５０００", id_number="11010519491231002X")
    ticket = ticket_of(response)

    [complaint] = stored(session)
    assert (complaint.ticket_no, complaint.channel, complaint.site_id) == (ticket, "web", site.id)
    assert complaint.complainant.phone == "13800138000" and complaint.complainant.name == "张三"
    assert complaint.complainant.id_number_masked == "110105********002X"
    assert (complaint.workers, complaint.amount, complaint.months, complaint.anonymous) == (8, 35000, 3, False)
    [photo] = session.scalars(select(Attachment)).all()
    assert (photo.complaint_id, photo.content_type, photo.filename) == (complaint.id, "image/jpeg", "欠条.jpg")
    event, sealed = session.scalars(select(Event).order_by(Event.id)).all()
    assert (event.complaint_id, event.kind, event.to_status) == (complaint.id, "received", Status.RECEIVED.value)
    assert (sealed.kind, sealed.data["attachment_id"], sealed.data["sha256"]) == ("evidence_stored", photo.id,
                                                                                 photo.sha256)

    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert ticket in receipt.text and "受理编号请保存好" in receipt.text
    assert "部门会在规定时间内联系您" in receipt.text and "手机号后四位" in receipt.text
    assert f'href="/status?ticket={ticket}"' in receipt.text and "阳光城三期工地" in receipt.text


def test_anonymous_report_needs_no_name(client, session):
    site = make_site(session)
    ticket_of(submit(client, f"/s/{site.public_token}", name="", anonymous="y"))
    [complaint] = stored(session)
    assert complaint.anonymous is True and complaint.complainant.name is None


@pytest.mark.parametrize("url", ["/report", "/"])
def test_general_link_asks_county_and_project(client, session, url):
    page = client.get(url).text
    assert 'name="county"' in page and '<option value="371302">兰山区</option>' in page
    assert 'name="project_name"' in page

    ticket = ticket_of(submit(client, url, county="371302", project_name="阳光城三期", workers="", amount="3.5万"))
    [complaint] = stored(session)
    assert (complaint.ticket_no, complaint.site_id) == (ticket, None)
    assert (complaint.jurisdiction_code, complaint.project_name) == ("371302", "阳光城三期")
    assert (complaint.workers, complaint.amount) == (1, 35000)


def test_every_field_error_is_shown_in_chinese_and_typed_values_are_kept(client, session):
    site = make_site(session)
    response = submit(client, f"/s/{site.public_token}", name="", phone="12345", id_number="110105194912310021",
                      workers="0", amount="很多", months="三个半", free_text="", consent=None)
    assert response.status_code == 200
    html = response.text
    for message in ("请填写姓名，或者勾选下面的“匿名反映”", "手机号不对，请填 11 位手机号",
                    "身份证号不对，请检查一下，或者不填", "人数请填一个数字，比如 1 或 8", "钱数请只填数字，比如 35000",
                    "月数请填一个数字，比如 3", "请写一下发生了什么事", "请勾选确认后再提交"):
        assert message in html
    for typed in ('value="12345"', 'value="110105194912310021"', 'value="0"', 'value="很多"', 'value="三个半"'):
        assert typed in html
    assert stored(session) == []


def test_missing_phone_long_text_and_general_fields(client, session):
    long_text = "欠" * 2001
    html = submit(client, "/report", phone="  ", free_text=long_text, county="", project_name="").text
    for message in ("请填写手机号，部门要用它联系您", "最多写 2000 个字，请删减一些", "请选择工地所在的区县",
                    "请填写工地或项目名称"):
        assert message in html
    assert long_text in html and 'value="张三"' in html
    html = submit(client, "/report", county="999999", project_name="某工地").text
    assert "请选择工地所在的区县" in html and 'value="某工地"' in html
    assert stored(session) == []


@pytest.mark.parametrize("token", ["no-such-token", "' OR 1=1 --", "x" * 300])
def test_unknown_or_forged_token_is_a_chinese_404(client, session, token):
    make_site(session)
    page = client.get(f"/s/{token}")
    assert page.status_code == 404 and "找不到这个页面" in page.text and "404" not in page.text


def test_non_image_photo_is_refused_and_nothing_stored(client, session):
    site = make_site(session)
    html = submit(client, f"/s/{site.public_token}", photos=[(b"%PDF-1.4\n1 0 obj<<>>endobj\n", "证据.jpg")]).text
    assert "证据.jpg 不是照片，只能上传 JPG 或 PNG 图片" in html
    assert "照片需要重新选择" in html and 'value="13800138000"' in html
    assert stored(session) == []


def test_too_many_or_too_big_photos_are_refused(session, app_with):
    site = make_site(session)
    with app_with(uploads={"max_photos": 2, "max_photo_bytes": 1024 * 1024}).test_client() as other:
        url = f"/s/{site.public_token}"
        assert "最多传 2 张照片" in submit(other, url, photos=[(jpeg(), f"{i}.jpg") for i in range(3)]).text
        big = jpeg((1000, 1000), noise=True)
        assert len(big) > 1024 * 1024
        assert "big.jpg 太大了，每张照片不能超过 1 MB" in submit(other, url, photos=[(big, "big.jpg")]).text
    assert stored(session) == []


def test_oversized_request_is_a_chinese_413_and_nothing_stored(session, app_with):
    site = make_site(session)
    with app_with(uploads={"max_request_bytes": 100_000}).test_client() as other:
        response = submit(other, f"/s/{site.public_token}", photos=[(b"\xff" * 200_000, "big.jpg")])
    assert response.status_code == 413 and "上传的内容太大" in response.text
    assert stored(session) == []


def test_script_in_text_and_project_name_is_escaped(client, session):
    response = submit(client, "/report", county="371302", project_name=SCRIPT, free_text=SCRIPT)
    ticket = ticket_of(response)
    pages = [client.get(response.headers["Location"]).text,
             client.post("/status", data={"csrf_token": csrf_token(client.get("/status").text),
                                          "ticket_no": ticket, "phone_last4": "8000"}).text]
    for html in pages:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert SCRIPT not in html
    error_page = submit(client, "/report", project_name=SCRIPT, free_text=SCRIPT, consent=None).text
    assert SCRIPT not in error_page


def test_double_submission_gives_one_complaint_and_the_same_ticket(client, session):
    site = make_site(session)
    url = f"/s/{site.public_token}"
    data = form_fields(client, url) | filled()
    first = client.post(url, data=data)
    second = client.post(url, data=data)
    assert ticket_of(first) == ticket_of(second)
    assert len(stored(session)) == 1


def test_missing_submission_key_asks_for_one_more_tap(client, session):
    site = make_site(session)
    url = f"/s/{site.public_token}"
    data = form_fields(client, url) | filled(submission_key="")
    html = client.post(url, data=data).text
    assert "页面已过期，请再点一次提交" in html and stored(session) == []
    fresh = re.search(r'name="submission_key" type="hidden" value="([0-9a-f]{32})"', html).group(1)
    ticket_of(client.post(url, data=data | {"submission_key": fresh}))


def test_missing_csrf_token_is_refused_and_nothing_stored(client, session):
    site = make_site(session)
    data = form_fields(client, f"/s/{site.public_token}") | filled()
    del data["csrf_token"]
    response = client.post(f"/s/{site.public_token}", data=data)
    assert response.status_code == 400 and "页面已过期" in response.text
    assert stored(session) == []


EXPIRED = "页面已过期（停留太久），您填的内容都还在下面"


@pytest.mark.parametrize("general", [False, True])
def test_a_form_posted_after_its_cookie_expired_comes_back_as_typed_with_a_fresh_token(app, client, session,
                                                                                       general):
    site = make_site(session)
    url = "/report" if general else f"/s/{site.public_token}"
    extra = {"county": "371302", "project_name": "阳光城三期"} if general else {}
    data = form_fields(client, url) | filled(free_text="干了三个月，老板一直不给钱。<还差一万七>", **extra)
    later = app.test_client()  # the same phone a day later: its session cookie (and the token's secret) is gone
    page = later.post(url, data=data, content_type="multipart/form-data")
    html = page.text
    assert page.status_code == 400 and EXPIRED in html and stored(session) == []
    for value in ("张三", "13800138000", 'value="8"', "35000", "干了三个月，老板一直不给钱。&lt;还差一万七&gt;",
                  data["submission_key"]):
        assert value in html, value
    if general:
        assert '<option selected value="371302">' in html and "阳光城三期" in html
    else:
        assert "阳光城三期工地" in html and 'name="county"' not in html
    fresh = csrf_token(html)
    assert fresh != data["csrf_token"]
    ticket_of(later.post(url, data=data | {"csrf_token": fresh}, content_type="multipart/form-data"))
    [complaint] = stored(session)
    assert complaint.free_text == "干了三个月，老板一直不给钱。<还差一万七>" and complaint.workers == 8


def test_an_expired_form_with_photos_says_to_choose_them_again(app, client, session):
    site = make_site(session)
    url = f"/s/{site.public_token}"
    data = form_fields(client, url) | filled() | {"photos": [(io.BytesIO(jpeg()), "欠条.jpg")]}
    html = app.test_client().post(url, data=data, content_type="multipart/form-data").text
    assert EXPIRED in html and "照片需要重新选择" in html and stored(session) == []


def test_other_expired_posts_still_get_the_plain_page(app, client, session):
    token = csrf_token(client.get("/status").text)
    response = app.test_client().post("/status", data={"csrf_token": token, "ticket_no": "1", "phone_last4": "1"})
    assert response.status_code == 400 and "页面停留太久已过期" in response.text


def test_receipt_is_only_for_the_browser_that_submitted(app, client, session):
    site = make_site(session)
    ticket = ticket_of(submit(client, f"/s/{site.public_token}"))
    assert client.get(f"/r/{ticket}").status_code == 200
    stranger = app.test_client()
    page = stranger.get(f"/r/{ticket}")
    assert page.status_code == 404 and ticket not in page.text


def test_phone_limit_counts_stored_complaints_only(session, app_with):
    site = make_site(session)
    url = f"/s/{site.public_token}"
    with app_with(ratelimit={"submit_per_phone": "1 per day"}).test_client() as other:
        for _ in range(2):
            assert "请写一下发生了什么事" in submit(other, url, free_text="").text
        ticket_of(submit(other, url))
        refused = submit(other, url, name="李四")
        assert refused.status_code == 429 and "操作太频繁" in refused.text and "429" not in refused.text
        ticket_of(submit(other, url, phone="13900139000"))
    assert len(stored(session)) == 2


def _lookup(client, ticket: str, last4: str):
    return client.post("/status", data={"csrf_token": csrf_token(client.get("/status").text),
                                        "ticket_no": ticket, "phone_last4": last4})


def test_status_shows_status_and_timeline_in_plain_chinese(client, session):
    site = make_site(session)
    ticket = ticket_of(submit(client, f"/s/{site.public_token}", name="王小明"))
    [complaint] = stored(session)
    session.execute(Event.__table__.update().values(created_at=datetime(2026, 11, 27, 2, 5, tzinfo=timezone.utc)))
    session.add(Event(complaint_id=complaint.id, kind="route", from_status="received", to_status="routed",
                      actor="staff:李科长", note="内部备注：别告诉工人", created_at=datetime(2026, 11, 27, 7, 30,
                                                                                   tzinfo=timezone.utc)))
    session.commit()

    page = _lookup(client, ticket, "８０００")
    assert page.status_code == 200
    html = page.text
    assert "已收到，正在分派给负责的部门" in html and "收到您的反映" in html
    assert "2026年11月27日 10:05" in html and "2026年11月27日 15:30" in html
    assert "已派给负责部门，等待部门签收" in html and "阳光城三期工地" in html
    for private in ("王小明", "13800138000", "李科长", "内部备注", "干了三个月"):
        assert private not in html


def test_status_wrong_digits_and_unknown_ticket_get_the_same_answer(client, session):
    site = make_site(session)
    ticket = ticket_of(submit(client, f"/s/{site.public_token}"))
    answers = [_lookup(client, ticket, "1234"), _lookup(client, "2611270000", "8000"), _lookup(client, "abc", "80")]
    for answer in answers:
        assert answer.status_code == 200 and NOT_FOUND in answer.text and "收到您的反映" not in answer.text
    assert "请填写受理编号" in _lookup(client, "", "8000").text


def test_status_lookups_are_limited_per_address(app_with):
    with app_with(ratelimit={"status_per_address": "2 per minute"}).test_client() as other:
        answers = [_lookup(other, "2611270000", "8000").status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_pages_cannot_be_framed_by_another_site(client):
    response = client.get("/report")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_huge_text_field_is_refused_and_nothing_stored(client, session):
    site = make_site(session)
    page = client.get(f"/s/{site.public_token}").get_data(as_text=True)
    response = client.post(f"/s/{site.public_token}", data={
        "csrf_token": csrf_token(page), "phone": "13800138000", "free_text": "欠" * (2 * 1024 * 1024),
        "consent": "y"}, content_type="multipart/form-data")
    assert response.status_code == 413 and "太大" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_control_characters_are_dropped_from_what_is_stored(client, session):
    site = make_site(session)
    response = submit(client, f"/s/{site.public_token}", free_text="老板\x00欠钱\x07不给", name="张\x00三")
    ticket = ticket_of(response)
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert complaint.free_text == "老板欠钱不给" and complaint.complainant.name == "张三"


def test_rate_limits_count_an_ipv6_64_as_one_client_and_trust_proxies_only_when_told(make_settings):
    tight = RateLimitSettings(status_per_address="2 per minute")

    def statuses(app, **environ):
        client = app.test_client()
        codes = []
        for i, env in enumerate(environ["clients"]):
            page = client.get("/status").get_data(as_text=True)
            codes.append(client.post("/status", data={"csrf_token": csrf_token(page), "ticket_no": "1",
                                                      "phone_last4": "0000"}, environ_base=env).status_code)
        return codes

    neighbours = [{"REMOTE_ADDR": f"2001:db8:1:2::{i}"} for i in range(1, 4)]
    assert statuses(create_app(make_settings(ratelimit=tight)), clients=neighbours) == [200, 200, 429]
    behind_proxy = [{"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"203.0.113.{i}"} for i in range(1, 4)]
    assert statuses(create_app(make_settings(ratelimit=tight)), clients=behind_proxy) == [200, 200, 429]
    assert statuses(create_app(make_settings(ratelimit=tight, proxy_hops=1)), clients=behind_proxy) == [200] * 3


def test_several_processes_share_rate_limits_through_redis(make_settings):
    """QINGLING_RATELIMIT_STORAGE_URI=redis://...: two apps (two web processes) count into one bucket."""
    import redis

    namespace = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(namespace).flushdb()
    shared = RateLimitSettings(storage_uri=namespace, status_per_address="2 per minute")
    first, second = (create_app(make_settings(ratelimit=shared)).test_client() for _ in range(2))
    codes = []
    for client in (first, second, first):
        page = client.get("/status").get_data(as_text=True)
        codes.append(client.post("/status", data={"csrf_token": csrf_token(page), "ticket_no": "1",
                                                  "phone_last4": "0000"}).status_code)
    assert codes == [200, 200, 429]
    redis.Redis.from_url(namespace).flushdb()


def test_the_free_text_is_read_for_the_configured_risk_words(session, app_with):
    """A county's own risk word ([reading] extra_risk_words) flags a web-form complaint as the shipped words do."""
    site = make_site(session)
    with app_with(reading={"extra_risk_words": (("mass_incident", "去开发商家"),)}).test_client() as other:
        ticket_of(submit(other, f"/s/{site.public_token}", free_text="明天我们去开发商家，不给钱就去政府"))
    [complaint] = stored(session)
    assert complaint.claim["risk_flags"] == ["mass_incident", "petition_media"]
